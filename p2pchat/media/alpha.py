"""Transparency for the sanitiser: one alpha channel out of every mode, nothing under it.

Owns turning a decoded frame into colour plus an optional alpha mask, whatever its
mode (RGBA, LA, PA, premultiplied, palette or greyscale with a ``tRNS`` colour key,
16-bit greyscale), bringing exotic colour modes to L, RGB or CMYK, and clearing the
colour of fully transparent pixels: an area erased to transparency still holds the
erased picture in its colour channels, and it must not travel.
"""

from __future__ import annotations

from PIL import Image, ImageChops, ImageMath

from p2pchat.i18n import t
from p2pchat.media.report import Finding

HIDDEN_COLOUR_KEY = "report.transparent_colour"
# Premultiplied and palette-with-alpha modes: Pillow converts them to RGBA exactly.
_CONVERT_TO_RGBA = ("PA", "RGBa", "La")


def normalise_mode(image: Image.Image) -> Image.Image:
    """Bring exotic modes (16-bit, float, 1-bit, palette) to L, RGB or CMYK (no alpha)."""
    mode = image.mode
    if mode in ("RGB", "L", "CMYK"):
        return image
    if mode.startswith("I") or mode == "F":
        # Stretch high-bit-depth data (scientific and drone TIFFs) onto 0..255.
        wide = image.convert("F") if mode == "F" else image.convert("I")
        low, high = wide.getextrema()
        low, high = float(low), float(high)  # type: ignore[arg-type]
        span = (high - low) or 1.0
        return wide.point(lambda value: (value - low) * 255.0 / span).convert("L")
    if mode in ("1", "LA", "La"):
        return image.convert("L")
    return image.convert("RGB")


def split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Colour (L, RGB or CMYK) and an alpha mask, or None when every pixel is opaque."""
    mode = image.mode
    alpha: Image.Image | None
    if mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        base = image.convert("RGB" if mode == "RGBA" else "L")
    elif mode in _CONVERT_TO_RGBA:
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        base = rgba.convert("L" if mode == "La" else "RGB")
    elif "transparency" in image.info:
        alpha = _colour_key_alpha(image)
        base = normalise_mode(image)
    else:
        return normalise_mode(image), None
    if alpha is not None and alpha.getextrema()[0] == 255:
        alpha = None
    return base, alpha


def _colour_key_alpha(image: Image.Image) -> Image.Image | None:
    """The mask of a ``tRNS`` colour key (palette index, grey level or RGB colour)."""
    key = image.info["transparency"]
    if image.mode.startswith("I") and isinstance(key, int):
        # 16-bit greyscale: compare at full depth, before the stretch to 8 bits.
        wide = image.convert("I")
        opaque: Image.Image = ImageMath.lambda_eval(lambda a: a["notequal"](a["im"], key), im=wide)
        return opaque.convert("L").point(lambda value: 255 if value else 0)
    if image.mode == "RGB" and isinstance(key, tuple) and max(key, default=0) > 255:
        # A 16-bit key on pixels Pillow kept at their high byte: match on that byte.
        # Erring towards transparent hides a colour; erring towards opaque shows one.
        image = image.copy()
        image.info["transparency"] = tuple(int(value) >> 8 for value in key)
    return image.convert("RGBA").getchannel("A")


def count_hidden_colour(base: Image.Image, alpha: Image.Image) -> int:
    """How many fully transparent pixels carry a colour other than zero."""
    transparent = alpha.point(lambda value: 255 if value == 0 else 0)
    if transparent.getbbox() is None:
        return 0
    colour = base if base.mode in ("L", "RGB") else base.convert("RGB")
    if colour.mode == "RGB":
        red, green, blue = colour.split()
        colour = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    coloured = colour.point(lambda value: 255 if value else 0)
    return ImageChops.multiply(transparent, coloured).histogram()[255]


def clear_hidden_colour(rgba: Image.Image) -> Image.Image:
    """Every fully transparent pixel becomes (0, 0, 0, 0); partial transparency is kept."""
    transparent = rgba.getchannel("A").point(lambda value: 255 if value == 0 else 0)
    if transparent.getbbox() is not None:
        rgba.paste((0, 0, 0, 0), mask=transparent)
    return rgba


def hidden_colour_finding(pixels: int) -> Finding:
    return Finding(
        "transparent",
        "high",
        f"Colour hidden under transparent areas removed ({pixels} pixels): an area "
        "erased to transparency still held the erased picture.",
        {"pixels": pixels, "short": t(HIDDEN_COLOUR_KEY), "i18n": HIDDEN_COLOUR_KEY},
    )
