"""Nothing hidden under transparent pixels, and transparency kept in every mode that has it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from p2pchat.i18n import set_language, t
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from tests.media.conftest import exiftool_json
from tests.media.test_sanitize_corpus import ALLOWED_TAGS

RECEIVE = SanitizePolicy(max_long_edge=None, side="receive")


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def erased_screenshot() -> bytes:
    """400x200: a 'secret' picture erased to alpha 0 on the left, a half-transparent band."""
    picture = Image.radial_gradient("L").resize((400, 200)).convert("RGB")
    alpha = Image.new("L", (400, 200), 255)
    alpha.paste(0, (0, 0, 200, 200))  # erased: colour still there
    alpha.paste(128, (300, 0, 400, 200))  # partly transparent: colour is visible, kept
    picture.putalpha(alpha)
    return encode(picture)


def pixels(data: bytes) -> list[tuple[int, ...]]:
    with Image.open(io.BytesIO(data)) as image:
        rgba = image.convert("RGBA")
        return [rgba.getpixel((x, y)) for y in range(rgba.height) for x in range(rgba.width)]  # type: ignore[misc]


@pytest.mark.parametrize("max_long_edge", [None, 100])
def test_fully_transparent_pixels_lose_their_colour(max_long_edge: int | None) -> None:
    source = erased_screenshot()
    result = sanitize_image(source, SanitizePolicy(max_long_edge=max_long_edge))
    assert result.mime == "image/png"
    out = pixels(result.data)
    transparent = [p for p in out if p[3] == 0]
    assert len(transparent) >= len(out) // 2 - result.width
    assert all(p[:3] == (0, 0, 0) for p in transparent)
    assert "colour hidden under transparent areas removed" in result.report.summary()
    assert result.report.findings[0].detail["pixels"] == 200 * 200
    if max_long_edge is None:
        # Partly transparent pixels are seen, so they keep their colour.
        original = pixels(source)
        band = [(i, p) for i, p in enumerate(original) if p[3] == 128]
        assert band and all(out[i] == p for i, p in band)


def test_the_report_says_it_in_japanese_too() -> None:
    result = sanitize_image(erased_screenshot(), RECEIVE)
    try:
        set_language("ja")
        assert t("report.transparent_colour") in result.report.summary()
        assert "colour hidden" not in result.report.summary()
    finally:
        set_language("en")


def test_nothing_said_when_nothing_was_hidden() -> None:
    clean = Image.new("RGBA", (20, 10), (90, 90, 90, 255))
    clean.paste((0, 0, 0, 0), (0, 0, 10, 10))
    result = sanitize_image(encode(clean), RECEIVE)
    assert result.mime == "image/png"
    assert "transparent" not in result.report.categories()


def _png16_rgb_with_key() -> bytes:
    """A 16-bit RGB PNG whose tRNS key is the first pixel: Pillow keeps 8 bits per sample."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    key = (0x1234, 0x5678, 0x9ABC)
    raw = b"\x00" + struct.pack(">6H", *key, 0xFFFF, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 16, 2, 0, 0, 0))
        + chunk(b"tRNS", struct.pack(">3H", *key))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _palette() -> Image.Image:
    image = Image.new("P", (16, 8), 0)
    image.putpalette([230, 20, 20, 20, 200, 40] + [0] * 762)
    image.paste(1, (0, 0, 8, 8))
    return image


KEYED = {
    "palette PNG, tRNS index": encode(_palette(), transparency=1),
    "palette PNG, tRNS table": encode(_palette(), transparency=bytes([255, 0])),
    "4-bit palette PNG": encode(_palette(), transparency=1, bits=4),
    "grey PNG, tRNS level": encode(Image.new("L", (16, 8), 7), transparency=7),
    "1-bit PNG, tRNS": encode(Image.new("1", (16, 8), 1), transparency=1),
    "16-bit grey PNG, tRNS": encode(Image.new("I;16", (16, 8), 300), transparency=300),
    "16-bit RGB PNG, tRNS": _png16_rgb_with_key(),
    "grey+alpha PNG": encode(Image.new("LA", (16, 8), (9, 0))),
}


@pytest.mark.parametrize("name", sorted(KEYED))
@pytest.mark.parametrize("side", ["send", "receive"])
def test_transparency_kept_for_palette_and_grey(name: str, side: str) -> None:
    result = sanitize_image(KEYED[name], SanitizePolicy(side=side))  # type: ignore[arg-type]
    assert result.mime == "image/png", "transparency must not become an opaque JPEG"
    out = pixels(result.data)
    assert out[0][3] == 0 and out[0][:3] == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "TIFF"])
def test_transparency_kept_on_the_send_side(fmt: str) -> None:
    image = _palette() if fmt == "GIF" else Image.new("RGBA", (16, 8), (5, 6, 7, 0))
    options: dict[str, object] = {"transparency": 1} if fmt == "GIF" else {}
    if fmt == "WEBP":
        options["lossless"] = True
    result = sanitize_image(encode(image, fmt, **options), SanitizePolicy())
    assert result.mime == "image/png"
    assert pixels(result.data)[0] == (0, 0, 0, 0)


def test_exiftool_sees_only_structure_in_the_transparent_outputs(tmp_path: Path) -> None:
    paths = []
    for index, data in enumerate([erased_screenshot(), *KEYED.values()]):
        path = tmp_path / f"out{index}.png"
        path.write_bytes(sanitize_image(data, RECEIVE).data)
        paths.append(path)
    for name, tags in exiftool_json(paths).items():
        extra = {key for key in tags if key not in ALLOWED_TAGS and not key.startswith("System:")}
        assert not extra, f"{name}: {sorted(extra)}"
