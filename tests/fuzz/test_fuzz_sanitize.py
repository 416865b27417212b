"""Fuzzing the image sanitiser on the receive side (``sanitize(data, side="receive")``).

Seeds: small real photos from tests/data/photos (with their EXIF/GPS/text chunks)
plus tiny images in the modes the decoders branch on (palette, grey, 16-bit, RGBA,
CMYK and progressive JPEG, interlaced PNG), generated here, the outside audit's files
(tests/data/audit: PSD, EPS, JPEG 2000, PNM, an AVIF sequence) for ``inspect`` and its
byte scanners (``media/other_formats.py``), and the classes of issue 13:
colour hidden under transparent pixels, palette and greyscale ``tRNS`` keys (8 and 16
bits), JPEGs with unknown or vendor segments (APP4 text, APP11 JUMBF, Casio QVCI).
Mutations hit headers, chunk lengths, markers and compressed data. The sanitiser must
return an image that re-opens cleanly with no colour under a fully transparent pixel,
or refuse with a ``P2PChatError`` (``ImageRejected``).
"""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.media import other_formats
from p2pchat.media.inspect import inspect_image
from p2pchat.media.sanitize import SanitizePolicy, sanitize
from tests.fuzz.conftest import EXAMPLES, assert_only_p2pchat_errors, mutated
from tests.photos import PHOTOS, photo

RECEIVE = SanitizePolicy(max_long_edge=None, side="receive")
CORPUS_SEEDS = ["apple-runtime-gpsdirection.jpg", "png-text-alpha.png", "nikon-gps-DSCN0010.jpg"]
# What `inspect` decodes since issue 13: vendor APPn blocks, C2PA, an AFCP trailer, QVCI,
# UTF-16 XMP, Canon MakerNote names, raw files' preview directories.
INSPECT_SEEDS = [
    "exiftool-c2pa-vendor-segments.jpg",
    "exiftool-afcp-iptc-trailer.jpg",
    "exiftool-casio-qvci.jpg",
    "exiftool-canon-ownername.jpg",
    "exiftool-xmp-utf16.jpg",
    "raw/exiftool-dng-previews.dng",
    "raw/exiftool-canon-previews.cr2",
    "raw/exiftool-phaseone.iiq",
]


def _generated() -> list[bytes]:
    out = []
    gradient = Image.linear_gradient("L").resize((24, 16))
    for mode, fmt, options in [
        ("RGB", "JPEG", {"quality": 80}),
        ("RGB", "JPEG", {"progressive": True}),
        ("CMYK", "JPEG", {}),
        ("L", "JPEG", {}),
        ("RGBA", "PNG", {}),
        ("P", "PNG", {"transparency": 0}),
        ("I;16", "PNG", {}),
        ("1", "PNG", {}),
        ("LA", "PNG", {"interlace": 1}),
        ("L", "PNG", {"transparency": 40}),
        ("I;16", "PNG", {"transparency": 0}),
        ("RGB", "PNG", {"transparency": (0, 0, 0)}),
    ]:
        buffer = io.BytesIO()
        gradient.convert(mode).save(buffer, format=fmt, **options)
        out.append(buffer.getvalue())
    # An area erased to transparency that still holds its colour.
    erased = gradient.convert("RGB")
    erased.putalpha(gradient.point(lambda value: 0 if value < 128 else value))
    buffer = io.BytesIO()
    erased.save(buffer, format="PNG")
    out.append(buffer.getvalue())
    out.append(_with_segments(out[0], [(0xE4, b"GPS 35.6586N 139.7454E"), (0xEB, _JUMBF)]))
    out.append(_with_segments(out[0], [(0xE1, b"QVCI\x00" + bytes(range(64)))]))
    # A PNG with a C2PA caBX chunk and an unknown chunk, after IHDR.
    png = out[4]
    extra = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in ((b"caBX", _JUMBF[8:]), (b"prVW", b"GPS 35.6N 139.7E"))
    )
    out.append(png[:33] + extra + png[33:])
    return out


# A tiny APP11 JUMBF superbox (C2PA-style): "JP", instance, sequence, then boxes.
_JUMBF = (
    b"JP\x00\x01\x00\x00\x00\x01"
    + b"\x00\x00\x00\x26jumb\x00\x00\x00\x1ejumd"
    + b"c2pa\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71\x03c2pa\x00"
)


def _with_segments(jpeg: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    inserted = b"".join(
        bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body
        for marker, body in segments
    )
    return jpeg[:2] + inserted + jpeg[2:]


SEEDS = [photo(name).read_bytes() for name in CORPUS_SEEDS]
SEEDS += _generated()
# The outside audit's classes: formats without a walker, read by byte scans.
AUDIT_SEEDS = [
    path.read_bytes()
    for path in sorted((PHOTOS.parent / "audit").iterdir())
    if path.suffix != ".md"
]
X_RAY_SEEDS = SEEDS + [photo(name).read_bytes() for name in INSPECT_SEEDS] + AUDIT_SEEDS
FAST = settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
LONG = settings(
    max_examples=3000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def check(data: bytes) -> None:
    policy = RECEIVE
    result = assert_only_p2pchat_errors("sanitize", lambda: sanitize(data, policy), data)
    if not isinstance(result, Exception):
        clean, _report = result
        with Image.open(io.BytesIO(clean)) as image:
            assert image.format in ("JPEG", "PNG")
            image.load()
            if image.mode == "RGBA":
                # Nothing hidden under a fully transparent pixel.
                transparent = image.getchannel("A").point(lambda a: 255 if a == 0 else 0)
                hidden = Image.new("RGBA", image.size)
                hidden.paste(image, mask=transparent)
                assert hidden.convert("RGB").getbbox() is None, "colour under transparency"


def test_seeds_sanitise():
    for data in SEEDS:
        clean, _ = sanitize(data, RECEIVE)
        assert clean


@FAST
@given(mutated(SEEDS, max_edits=4))
def test_mutated_images(data):
    check(data)


def inspect_check(data: bytes) -> None:
    # The sanitiser's report swallows inspect errors; here none may be anything but a refusal.
    assert_only_p2pchat_errors("inspect", lambda: inspect_image(data), data)


def test_inspect_seeds_report_something():
    for data in X_RAY_SEEDS[len(SEEDS) : len(SEEDS) + len(INSPECT_SEEDS)]:
        assert inspect_image(data).findings


@FAST
@given(mutated(X_RAY_SEEDS, max_edits=4))
def test_mutated_inspect(data):
    inspect_check(data)


def scan_check(data: bytes) -> None:
    # Pure byte scans: a refusal is not even possible, any exception is a bug.
    other_formats.photoshop_resources(data)
    other_formats.xmp_packet(data)
    other_formats.embedded_tiffs(data)
    other_formats.pnm_comments(data)
    other_formats.jpeg2000_comments(data)
    other_formats.embedded_jpeg_comments(data)
    EXAMPLES["other_formats"] += 1


def test_audit_seeds_report_something_or_are_refused():
    assert len(AUDIT_SEEDS) == 11
    refused = 0
    for data in AUDIT_SEEDS:
        try:
            assert inspect_image(data).findings
        except ImageRejected:
            refused += 1  # the broken TIFF and the two bombs
    assert refused == 3


@FAST
@given(mutated(AUDIT_SEEDS, max_edits=6))
def test_mutated_other_format_scanners(data):
    scan_check(data)
    inspect_check(data)


@FAST
@given(st.binary(max_size=256).map(lambda tail: b"\x89PNG\r\n\x1a\n" + tail))
def test_png_signature_then_garbage(data):
    check(data)


@pytest.mark.slow
@LONG
@given(mutated(SEEDS, max_edits=12))
def test_long_campaign(data):
    check(data)


@pytest.mark.slow
@LONG
@given(mutated(X_RAY_SEEDS, max_edits=12))
def test_long_inspect_campaign(data):
    inspect_check(data)


@pytest.mark.slow
@LONG
@given(mutated(AUDIT_SEEDS, max_edits=12))
def test_long_other_format_campaign(data):
    scan_check(data)
    inspect_check(data)
