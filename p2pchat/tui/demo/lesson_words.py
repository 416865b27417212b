"""The demo's plain words for what a photo carries, and its hidden pictures.

Owns how a finding is told to the class (``describe_finding``, dates in human form),
the short names of a report, and digging out the pictures the sample hides (the EXIF
thumbnail, the JPEG after the image's end) to show them.
"""

from __future__ import annotations

import io
import struct
from typing import Any, Final

from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.i18n import t
from p2pchat.media.inspect import Finding, PrivacyReport, format_coordinates
from p2pchat.media.report_sentences import describe
from p2pchat.media.report_words import human_time as human_time

# Mean difference per channel (0-255) below which two renderings show the same picture.
SAME_PICTURE_THRESHOLD: Final = 12.0
SHORT: Final = 3  # the TIFF type of a 16-bit value
LEAK_KEYS: Final = frozenset(
    {
        "gps",
        "device",
        "serial",
        "time",
        "thumbnail",
        "trailer",
        "software",
        "exif",
        "xmp",
        "icc",
        "comment",
        "makernote",
        "faces",
        "person",
        "place",
        "history",
        "frames",
    }
)


def describe_finding(finding: Finding) -> str:
    """One leak in plain words of the current language."""
    detail = finding.detail
    category = finding.category if finding.category in LEAK_KEYS else "other"
    values = {
        "coords": _coords(detail),
        "model": detail.get("model") or detail.get("make") or "?",
        "serial": _first_value(detail, exclude={"short"}),
        "when": human_time(str(detail.get("taken") or _first_value(detail, exclude={"short"}))),
        "bytes": detail.get("bytes", "?"),
        "software": ", ".join(detail.get("software") or []) or "?",
        "what": describe(finding),  # the reader's language, not the finding's English
    }
    return t(f"demo.leak.{category}", **values)


def _coords(detail: dict[str, Any]) -> str:
    try:
        return format_coordinates(float(detail["latitude"]), float(detail["longitude"]))
    except (KeyError, TypeError, ValueError):
        return "?"


def _first_value(detail: dict[str, Any], exclude: set[str]) -> str:
    for key, value in detail.items():
        if key not in exclude:
            return str(value)
    return "?"


def short_names(report: PrivacyReport) -> str:
    """ "location, camera, serial number…": the categories of a report in the current language."""
    seen: list[str] = []
    for finding in report.findings:
        category = finding.category if finding.category in LEAK_KEYS else "other"
        name = t(f"demo.short.{category}")
        if name not in seen:
            seen.append(name)
    return t("demo.short.separator").join(seen)


def xray_lines(report: PrivacyReport) -> list[str]:
    if not report.findings:
        return [t("demo.xray.nothing")]
    return [f"• {describe_finding(finding)}" for finding in report.findings]


# ---------------------------------------------------------------- hidden pictures


def exif_thumbnail(data: bytes) -> bytes | None:
    """The JPEG thumbnail of the first EXIF block (IFD1), or None."""
    start = data.find(b"Exif\x00\x00")
    if start < 0:
        return None
    try:
        return _ifd1_jpeg(data[start + 6 : start + 6 + 65_536])
    except struct.error:
        return None


def _ifd1_jpeg(tiff: bytes) -> bytes | None:
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, ifd0)
    (ifd1,) = struct.unpack_from(order + "I", tiff, ifd0 + 2 + 12 * count)
    if not ifd1:
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd1)
    offset = length = 0
    for index in range(count):
        tag, kind, _n, value = struct.unpack_from(order + "HHI4s", tiff, ifd1 + 2 + 12 * index)
        value = struct.unpack_from(order + ("H" if kind == SHORT else "I"), value)[0]
        if tag == 0x0201:
            offset = value
        elif tag == 0x0202:
            length = value
    if not offset or not length or offset + length > len(tiff):
        return None
    return tiff[offset : offset + length]


def hidden_trailer_picture(data: bytes) -> bytes | None:
    """A JPEG hidden after the image's end, as in the sample (the last start-of-image)."""
    start = data.rfind(b"\xff\xd8\xff")
    return data[start:] if start > 0 and data.endswith(b"\xff\xd9") else None


def same_picture(first: bytes, second: bytes) -> bool:
    """Whether two JPEGs show the same picture (small renderings compared pixel by pixel)."""
    try:
        with Image.open(io.BytesIO(first)) as a, Image.open(io.BytesIO(second)) as b:
            small_a = a.convert("RGB").resize((64, 48))
            small_b = b.convert("RGB").resize((64, 48))
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(f"cannot compare pictures: {error}") from error
    pixels_a, pixels_b = small_a.tobytes(), small_b.tobytes()
    difference = sum(abs(x - y) for x, y in zip(pixels_a, pixels_b, strict=True))
    return difference / len(pixels_a) < SAME_PICTURE_THRESHOLD


def mark(held: bool) -> str:
    return "✔" if held else "✘"
