"""EXIF findings: camera and lens, serial numbers, times, names, comments, GPS, MakerNote.

Reads the TIFF-structured EXIF block with Pillow and records what it reveals on a
``FindingCollector``; vendor MakerNotes are recognised by their headers, and Canon's
internal serial number is dug out of its undocumented directory.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

from PIL import ExifTags, Image

from p2pchat.media.collector import FindingCollector, add_named, as_label, gps_finding
from p2pchat.media.container_findings import thumbnail_finding
from p2pchat.media.report import Finding

_IFD0_DEVICE = {0x010F: "make", 0x0110: "model"}
_SERIAL_TAGS = {
    0xA431: "body serial number",
    0xA435: "lens serial number",
    0xC62F: "camera serial number",
}
_PERSON_TAGS = {0x013B: "artist", 0x8298: "copyright", 0xA430: "camera owner"}
_TIME_TAGS = {
    0x0132: "modified",
    0x9003: "taken",
    0x9004: "digitised",
}
_XP_TAGS = {
    0x9C9B: "title",
    0x9C9C: "comment",
    0x9C9D: "author",
    0x9C9E: "keywords",
    0x9C9F: "subject",
}


def _rational(value: Any) -> float:
    return float(value)


def _dms_to_decimal(dms: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (_rational(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if as_label(ref).upper()[:1] in ("S", "W"):
        decimal = -decimal
    return decimal


def exif_from_bytes(raw: bytes) -> tuple[Image.Exif, bytes] | None:
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    exif = Image.Exif()
    exif.load(tiff)
    return exif, tiff


def analyse_exif(
    exif: Image.Exif, tiff: bytes | None, main_size: tuple[int, int], out: FindingCollector
) -> None:
    ifd0 = dict(exif.items())
    exif_ifd: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    ifd1: dict[int, Any] = {}
    for name, target in (
        (ExifTags.IFD.Exif, exif_ifd),
        (ExifTags.IFD.GPSInfo, gps),
        (ExifTags.IFD.IFD1, ifd1),
    ):
        try:
            target.update(exif.get_ifd(name))
        except Exception:
            out.add(Finding("exif", "low", f"An EXIF block ({name.name}) could not be read.", {}))
    merged = {**ifd0, **exif_ifd}
    _geotiff(ifd0, out)
    for tag, key in _IFD0_DEVICE.items():
        if tag in ifd0 and as_label(ifd0[tag]):
            out.device[key] = as_label(ifd0[tag])
    for tag, key in ((0xA433, "lens make"), (0xA434, "lens")):
        if tag in merged and as_label(merged[tag]):
            out.device[key] = as_label(merged[tag])
    for tag, key in _SERIAL_TAGS.items():
        if tag in merged and as_label(merged[tag]):
            out.serials[key] = as_label(merged[tag])
    if 0xA420 in merged and as_label(merged[0xA420]):
        out.serials["unique image id"] = as_label(merged[0xA420])
    for tag, key in _TIME_TAGS.items():
        if tag in merged and as_label(merged[tag]):
            out.times[key] = as_label(merged[tag])
    if 0x0131 in ifd0 and as_label(ifd0[0x0131]):
        out.software.append(as_label(ifd0[0x0131]))
    for tag, key in _PERSON_TAGS.items():
        if tag in merged and as_label(merged[tag]):
            out.people[key] = as_label(merged[tag])
    for tag, key in _XP_TAGS.items():
        value = ifd0.get(tag)
        if isinstance(value, bytes | tuple):
            raw = bytes(value)
            text = as_label(raw.decode("utf-16-le", "replace").split("\x00", 1)[0])
            if text:
                out.add(Finding("comment", "medium", f"Windows {key}: {text!r}.", {key: text}))
    if 0x010E in ifd0 and as_label(ifd0[0x010E]):
        text = as_label(ifd0[0x010E])
        out.add(
            Finding("comment", "medium", f"Image description: {text!r}.", {"description": text})
        )
    user_comment = merged.get(0x9286)
    if isinstance(user_comment, bytes) and user_comment[8:].strip(b"\x00 "):
        text = as_label(user_comment[8:].decode("utf-8", "replace"))
        if text:
            out.add(Finding("comment", "medium", f"User comment: {text!r}.", {"comment": text}))

    if gps:
        lat = _dms_to_decimal(gps.get(2), gps.get(1)) if 2 in gps else None
        lon = _dms_to_decimal(gps.get(4), gps.get(3)) if 4 in gps else None
        extra: dict[str, Any] = {}
        for tag, key in ((6, "altitude_m"), (0x11, "direction_deg")):
            if tag in gps:
                with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
                    extra[key] = round(float(gps[tag]), 1)
        if 0x1D in gps:
            extra["date"] = as_label(gps[0x1D])
        if lat is not None and lon is not None and not (lat == 0 and lon == 0):
            out.add(gps_finding(lat, lon, "EXIF", extra))
            out.gps_done = True
        else:
            out.add(
                Finding(
                    "gps",
                    "medium",
                    "A GPS block is present (no usable position, but it may hold "
                    "direction, altitude or time).",
                    {"tags": sorted(int(t) for t in gps)[:32]},
                )
            )
        if "direction_deg" in extra and lat is not None:
            out.add(
                Finding(
                    "gps",
                    "medium",
                    f"Compass direction {extra['direction_deg']}°: which way the camera pointed.",
                    {"direction_deg": extra["direction_deg"]},
                )
            )

    makernote = exif_ifd.get(0x927C)
    if isinstance(makernote, bytes) and makernote:
        _analyse_makernote(makernote, tiff, out)

    if ifd1 and tiff is not None:
        offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
        if isinstance(offset, int) and isinstance(length, int) and length > 0:
            thumb = tiff[offset : offset + length]
            thumbnail_finding("EXIF", thumb, main_size, out)
        elif ifd1:
            out.add(
                Finding(
                    "thumbnail",
                    "medium",
                    "An EXIF thumbnail directory is present; it may show the uncropped original.",
                    {},
                )
            )


def _analyse_makernote(makernote: bytes, tiff: bytes | None, out: FindingCollector) -> None:
    vendor = out.device.get("make", "")
    head = makernote[:16]
    for prefix, name in (
        (b"Apple iOS", "Apple"),
        (b"Nikon", "Nikon"),
        (b"FUJIFILM", "Fujifilm"),
        (b"OLYMP", "Olympus"),
        (b"Panasonic", "Panasonic"),
        (b"SONY", "Sony"),
        (b"QVC", "Casio"),
    ):
        if head.startswith(prefix):
            vendor = name
            break
    detail: dict[str, Any] = {"vendor": vendor, "bytes": len(makernote), "short": "MakerNote"}
    out.add(
        Finding(
            "makernote",
            "medium",
            f"{'An' if vendor[:1] in ('A', 'E', 'I', 'O', 'U') else 'A'} "
            f"{vendor + ' ' if vendor else ''}MakerNote ({len(makernote)} bytes): "
            "undocumented vendor data, often with serial numbers and camera settings.",
            detail,
        )
    )
    if head.startswith(b"Apple iOS"):
        if b"bplist" in makernote:
            out.add(
                Finding(
                    "session",
                    "medium",
                    "An Apple RunTime clock value: it links photos taken in the same "
                    "session (since the phone last started).",
                    {"vendor": "Apple", "short": "RunTime id"},
                )
            )
        return
    if vendor.lower().startswith("canon") and tiff is not None:
        _canon_makernote(makernote, tiff, out)
    if head[:4] + head[5:8] == b"IIIIwaR" or head[:7] == b"MMMMRaw":
        _phase_one_makernote(makernote, out)


# Phase One / Leaf camera backs: tag -> what it names (ExifTool's PhaseOne.pm).
_PHASE_ONE_TEXT = {
    0x0102: "serial",
    0x0203: "software",
    0x0301: "software",
    0x0410: "model",
    0x0412: "lens",
}


def _phase_one_makernote(makernote: bytes, out: FindingCollector) -> None:
    """An IIQ MakerNote: 12-byte header, then 16-byte entries (tag, format, size, value)."""
    endian = "<" if makernote[:2] == b"II" else ">"
    with contextlib.suppress(struct.error, IndexError):
        (directory,) = struct.unpack(endian + "I", makernote[8:12])
        (count,) = struct.unpack(endian + "I", makernote[directory : directory + 4])
        for index in range(min(count, 512)):
            at = directory + 8 + 16 * index
            tag, _kind, size, value = struct.unpack(endian + "4I", makernote[at : at + 16])
            if tag not in _PHASE_ONE_TEXT or not 0 < size <= 256:
                continue
            raw = (
                makernote[at + 12 : at + 12 + size]
                if size <= 4
                else makernote[value : value + size]
            )
            text = as_label(raw)
            if not text:
                continue
            what = _PHASE_ONE_TEXT[tag]
            if what == "serial":
                out.serials.setdefault("camera back serial number", text)
            elif what == "software":
                out.software.append(text)
            else:
                out.device.setdefault(what, text)


_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def _canon_makernote(makernote: bytes, tiff: bytes, out: FindingCollector) -> None:
    """Canon's owner name (0x0009), serial number (0x000C) and internal serial (0x0096)."""
    values = _canon_values(makernote, tiff, {0x0009, 0x000C, 0x0096})
    owner = as_label(values.get(0x0009, b""))
    if owner:
        add_named(out.people, "camera owner", owner, "Canon MakerNote")
    serial = values.get(0x000C)
    if isinstance(serial, int) and serial:
        out.serials.setdefault("body serial number", f"{serial:010d}")
    internal = as_label(values.get(0x0096, b""))
    if internal and all(ch.isalnum() or ch in "-_ " for ch in internal):
        out.serials["internal serial"] = internal


def _canon_values(makernote: bytes, tiff: bytes, wanted: set[int]) -> dict[int, bytes | int]:
    """Text and LONG values of a Canon MakerNote IFD; offsets are relative to the TIFF header."""
    if len(makernote) < 14:
        return {}
    # Editors that rewrite the TIFF in the other byte order leave the MakerNote as it was.
    tiff_endian = "<" if tiff[:2] == b"II" else ">"
    for endian in (tiff_endian, ">" if tiff_endian == "<" else "<"):
        (count,) = struct.unpack(endian + "H", makernote[:2])
        (first_type,) = struct.unpack(endian + "H", makernote[4:6])
        if 0 < count <= 512 and 2 + 12 * count <= len(makernote) and 1 <= first_type <= 13:
            break
    else:
        return {}
    entries = [
        struct.unpack(endian + "HHI4s", makernote[2 + 12 * index : 14 + 12 * index])
        for index in range(count)
    ]
    # Editors move the MakerNote without fixing its offsets: re-base on where its
    # first out-of-line value should sit, as ExifTool does.
    base = 0
    position = tiff.find(makernote[:64])
    out_of_line = [
        struct.unpack(endian + "I", field)[0]
        for _t, kind, n, field in entries
        if _TIFF_TYPE_SIZE.get(kind, 1) * n > 4
    ]
    if position >= 0 and out_of_line:
        base = position + 2 + 12 * count + 4 - min(out_of_line)
        if abs(base) > len(tiff):
            base = 0
    values: dict[int, bytes | int] = {}
    for tag, kind, n, field in entries:
        if tag not in wanted:
            continue
        if kind in (2, 7) and 0 < n <= 64:
            if n <= 4:
                values[tag] = field[:n]
            else:
                (offset,) = struct.unpack(endian + "I", field)
                values[tag] = tiff[offset + base : offset + base + n]
        elif kind == 4 and n == 1:
            values[tag] = struct.unpack(endian + "I", field)[0]
    return values


# GeoTIFF: ModelTiePoint, ModelTransformation, ModelPixelScale, GeoKeyDirectory.
_GEOTIFF_TAGS = (33922, 34264, 33550, 34735)


def _geotiff(ifd0: dict[int, Any], out: FindingCollector) -> None:
    """A drone's or a GIS tool's TIFF placed on a map: a location without GPS tags."""
    present = [tag for tag in _GEOTIFF_TAGS if tag in ifd0]
    if not present:
        return
    point = ifd0.get(33922) or ifd0.get(34264)
    where = ""
    if isinstance(point, tuple | list) and len(point) >= 5:
        # A tie point is (i, j, k, x, y, z); a transformation matrix has x, y at 3 and 7.
        x, y = (point[3], point[4]) if 33922 in ifd0 else (point[3], point[7])
        with contextlib.suppress(TypeError, ValueError):
            where = f" ({float(x):.2f}, {float(y):.2f})"
    out.add(
        Finding(
            "geotiff",
            "high",
            f"GeoTIFF map coordinates{where}: they place the image on a map; with the "
            "projection the file names, they give the place it shows.",
            {"short": "GeoTIFF map coordinates" + where},
        )
    )


def report_exif(
    image: Image.Image,
    kind: str,
    exif_raw: bytes | None,
    out: FindingCollector,
    data: bytes | None = None,
) -> None:
    """Read the container's EXIF block (or the one Pillow found) and record what it says."""
    if exif_raw is None and (kind in ("TIFF", "HEIF") or "exif" in image.info):
        raw = image.info.get("exif")
        if isinstance(raw, bytes):
            exif_raw = raw
    exif_pair: tuple[Image.Exif, bytes | None] | None = None
    if exif_raw:
        try:
            exif_pair = exif_from_bytes(exif_raw)
        except Exception:
            out.add(Finding("exif", "medium", "An EXIF block is present but malformed.", {}))
    elif kind == "TIFF":
        exif_pair = (image.getexif(), data)  # TIFF tags are the EXIF, offsets from the start
    if exif_pair is not None:
        analyse_exif(exif_pair[0], exif_pair[1], image.size, out)
        out.add(
            Finding(
                "exif",
                "low",
                f"An EXIF block ({len(exif_raw) if exif_raw else 'TIFF tags'}"
                f"{' bytes' if exif_raw else ''}) of camera metadata.",
                {"short": "EXIF metadata"},
            )
        )
