"""Fuzzing the image sanitiser on the receive side (``sanitize(data, side="receive")``).

Seeds: small real photos from tests/data/photos (with their EXIF/GPS/text chunks)
plus tiny images in the modes the decoders branch on (palette, grey, 16-bit, RGBA,
CMYK and progressive JPEG, interlaced PNG), generated here. Mutations hit headers,
chunk lengths, markers and compressed data. The sanitiser must return an image that
re-opens cleanly, or refuse with a ``P2PChatError`` (``ImageRejected``).
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from p2pchat.media.sanitize import SanitizePolicy, sanitize
from tests.fuzz.conftest import assert_only_p2pchat_errors, mutated
from tests.photos import photo

RECEIVE = SanitizePolicy(max_long_edge=None, side="receive")
CORPUS_SEEDS = ["apple-runtime-gpsdirection.jpg", "png-text-alpha.png", "nikon-gps-DSCN0010.jpg"]


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
    ]:
        buffer = io.BytesIO()
        gradient.convert(mode).save(buffer, format=fmt, **options)
        out.append(buffer.getvalue())
    return out


SEEDS = [photo(name).read_bytes() for name in CORPUS_SEEDS]
SEEDS += _generated()
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


def test_seeds_sanitise():
    for data in SEEDS:
        clean, _ = sanitize(data, RECEIVE)
        assert clean


@FAST
@given(mutated(SEEDS, max_edits=4))
def test_mutated_images(data):
    check(data)


@FAST
@given(st.binary(max_size=256).map(lambda tail: b"\x89PNG\r\n\x1a\n" + tail))
def test_png_signature_then_garbage(data):
    check(data)


@pytest.mark.slow
@LONG
@given(mutated(SEEDS, max_edits=12))
def test_long_campaign(data):
    check(data)
