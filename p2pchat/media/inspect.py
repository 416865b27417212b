"""What a photo carries besides its pixels: the metadata X-ray behind `p2pchat inspect`.

``inspect_image(data)`` never decodes pixels. It walks the container (JPEG segments,
PNG chunks, GIF blocks, RIFF chunks) itself with bounds checks, reads EXIF with
Pillow, XMP with plain regular expressions (no XML parser on hostile input), and
turns what it finds into ``Finding``s whose messages a person understands. Any
parse error becomes a finding or an ``ImageRejected``: never an uncaught exception.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from p2pchat.core.errors import ImageRejected

Severity = Literal["high", "medium", "low"]

MAX_INSPECT_BYTES = 256 * 1024 * 1024
MAX_SIDE = 16384
# Pillow's own decompression-bomb threshold (about 90 MP); the sanitiser uses the same.
MAX_PIXELS = 89_478_485
MAX_XMP_SCAN = 4 * 1024 * 1024
MAX_LISTED_VALUES = 8

_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
# The summary leads with what identifies a place, a device or a person.
_SUMMARY_ORDER = {name: rank for rank, name in enumerate((
    "gps", "device", "serial", "person", "faces", "place", "trailer", "thumbnail", "frames",
    "time", "session", "history", "comment", "text", "iptc", "photoshop", "software",
    "makernote", "icc", "exif", "xmp", "malformed",
))}


@dataclass(frozen=True)
class Finding:
    """One thing the image carries, described for a person."""

    category: str
    severity: Severity
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrivacyReport:
    """What an image carries (from inspect) or what was removed (from sanitize)."""

    format: str
    width: int
    height: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def categories(self) -> set[str]:
        return {finding.category for finding in self.findings}

    def summary(self) -> str:
        """One plain-words line: the most revealing things first."""
        if not self.findings:
            return "no metadata found"
        ordered = sorted(self.findings, key=_importance)
        return "; ".join(_short(finding) for finding in ordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "summary": self.summary(),
            "findings": [asdict(finding) for finding in self.findings],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyReport:
        findings = [
            Finding(
                category=str(item["category"]),
                severity=item["severity"] if item["severity"] in _SEVERITY_ORDER else "low",
                message=str(item["message"]),
                detail=dict(item.get("detail") or {}),
            )
            for item in data.get("findings", [])
        ]
        return cls(
            format=str(data["format"]),
            width=int(data["width"]),
            height=int(data["height"]),
            findings=findings,
            notes=[str(note) for note in data.get("notes", [])],
        )


def _importance(finding: Finding) -> tuple[int, int]:
    return (_SUMMARY_ORDER.get(finding.category, len(_SUMMARY_ORDER)),
            _SEVERITY_ORDER.get(finding.severity, 3))


def _short(finding: Finding) -> str:
    short = finding.detail.get("short")
    return str(short) if short else finding.message.rstrip(".")


# ---------------------------------------------------------------- helpers


def _text(value: Any, limit: int = 120) -> str:
    """A metadata value as a printable label (no control characters, bounded)."""
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rational(value: Any) -> float:
    return float(value)


def _dms_to_decimal(dms: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (_rational(part) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if _text(ref).upper()[:1] in ("S", "W"):
        decimal = -decimal
    return decimal


def format_coordinates(lat: float, lon: float) -> str:
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.4f} {ns} {abs(lon):.4f} {ew}"


def _gps_finding(lat: float, lon: float, source: str, extra: dict[str, Any]) -> Finding:
    coords = format_coordinates(lat, lon)
    short_coords = (f"{abs(lat):.2f} {'N' if lat >= 0 else 'S'} "
                    f"{abs(lon):.2f} {'E' if lon >= 0 else 'W'}")
    return Finding(
        "gps",
        "high",
        f"GPS location {coords} ({source}): shows where the photo was taken.",
        {"latitude": round(lat, 6), "longitude": round(lon, 6), "source": source,
         "short": f"GPS location {short_coords}", **extra},
    )


def _open_header(data: bytes, formats: list[str] | None = None) -> Image.Image:
    """Open without decoding pixels; decompression-bomb warnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # malformed EXIF: reported, not warned
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=formats)
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRejected(
            f"the image claims to be {width}x{height} pixels, over the limit of "
            f"{MAX_SIDE}x{MAX_SIDE} and {MAX_PIXELS // 1_000_000} megapixels"
        )
    return image


def _embedded_image_size(data: bytes) -> tuple[str, int, int] | None:
    """Format and size of an embedded picture (thumbnail, trailer), or None."""
    try:
        image = _open_header(data, ["JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
        return (str(image.format), image.size[0], image.size[1])
    except Exception:
        return None


# ---------------------------------------------------------------- container walkers


@dataclass
class _Container:
    segments: list[tuple[str, bytes]] = field(default_factory=list)  # (kind, payload)
    image_end: int | None = None
    frames: int = 1
    problems: list[str] = field(default_factory=list)


def _walk_jpeg(data: bytes) -> _Container:
    out = _Container()
    pos = 2
    length = len(data)
    while pos + 2 <= length:
        if data[pos] != 0xFF:
            out.problems.append(f"garbage at byte {pos} between JPEG segments")
            return out
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            out.image_end = pos + 2
            return out
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > length:
            break
        (seg_len,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if seg_len < 2 or pos + 2 + seg_len > length:
            out.problems.append("a JPEG segment runs past the end of the file")
            return out
        payload = data[pos + 4 : pos + 2 + seg_len]
        if 0xE0 <= marker <= 0xEF:
            out.segments.append((f"APP{marker - 0xE0}", payload))
        elif marker == 0xFE:
            out.segments.append(("COM", payload))
        pos += 2 + seg_len
        if marker == 0xDA:  # entropy-coded data follows: find the next real marker
            scan = pos
            while True:
                scan = data.find(b"\xff", scan)
                if scan < 0 or scan + 1 >= length:
                    out.problems.append("the JPEG ends inside the image data (truncated)")
                    return out
                following = data[scan + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    scan += 1 if following == 0xFF else 2
                    continue
                break
            pos = scan
    out.problems.append("the JPEG has no end-of-image marker (truncated)")
    return out


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _walk_png(data: bytes) -> _Container:
    out = _Container()
    pos = 8
    while pos + 8 <= len(data):
        (chunk_len,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        end = pos + 12 + chunk_len
        if end > len(data):
            out.problems.append(f"the PNG chunk {kind!r} runs past the end of the file")
            return out
        if kind != "IDAT":
            out.segments.append((kind, data[pos + 8 : pos + 8 + chunk_len]))
        if kind == "acTL" and chunk_len >= 4:
            out.frames = max(1, struct.unpack(">I", data[pos + 8 : pos + 12])[0])
        pos = end
        if kind == "IEND":
            out.image_end = pos
            return out
    out.problems.append("the PNG has no IEND chunk (truncated)")
    return out


def _walk_gif(data: bytes) -> _Container:
    out = _Container(frames=0)
    if len(data) < 13:
        out.problems.append("the GIF header is truncated")
        return out
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)

    def skip_sub_blocks(start: int) -> tuple[int, bytes]:
        collected = bytearray()
        while start < len(data):
            size = data[start]
            start += 1
            if size == 0:
                return start, bytes(collected)
            if len(collected) < 65536:
                collected += data[start : start + size]
            start += size
        raise ValueError("truncated")

    try:
        while pos < len(data):
            block = data[pos]
            if block == 0x3B:
                out.image_end = pos + 1
                return out
            if block == 0x21 and pos + 1 < len(data):
                label = data[pos + 1]
                pos, payload = skip_sub_blocks(pos + 2)
                if label == 0xFE:
                    out.segments.append(("comment", payload))
                elif label == 0xFF:
                    out.segments.append(("application", payload))
                elif label == 0x01:
                    out.segments.append(("plaintext", payload))
            elif block == 0x2C and pos + 10 <= len(data):
                out.frames += 1
                local = data[pos + 9]
                pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0)
                pos += 1  # LZW minimum code size
                pos, _ = skip_sub_blocks(pos)
            else:
                out.problems.append(f"unexpected GIF block 0x{block:02x}")
                return out
    except ValueError:
        pass
    out.problems.append("the GIF has no trailer (truncated)")
    return out


def _walk_riff(data: bytes) -> _Container:
    out = _Container()
    if len(data) < 12:
        out.problems.append("the WebP header is truncated")
        return out
    (riff_len,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_len)
    pos = 12
    frames = 0
    while pos + 8 <= end:
        kind = data[pos : pos + 4].decode("latin-1")
        (chunk_len,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        payload = data[pos + 8 : pos + 8 + chunk_len]
        if kind in ("EXIF", "XMP ", "ICCP"):
            out.segments.append((kind, payload))
        if kind == "ANMF":
            frames += 1
        pos += 8 + chunk_len + (chunk_len & 1)
    out.frames = max(1, frames)
    out.image_end = 8 + riff_len if 8 + riff_len <= len(data) else None
    if out.image_end is None:
        out.problems.append("the WebP file is shorter than its header says (truncated)")
    return out


def _sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"ftyp":
        return "HEIF"
    if data[:2] == b"BM":
        return "BMP"
    return "unknown"


# ---------------------------------------------------------------- EXIF

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
_XP_TAGS = {0x9C9B: "title", 0x9C9C: "comment", 0x9C9D: "author", 0x9C9E: "keywords",
            0x9C9F: "subject"}


class _Collector:
    """Accumulates findings; merges duplicates from EXIF and XMP."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.seen: set[tuple[str, str]] = set()
        self.device: dict[str, str] = {}
        self.serials: dict[str, str] = {}
        self.times: dict[str, str] = {}
        self.software: list[str] = []
        self.people: dict[str, str] = {}
        self.places: dict[str, str] = {}
        self.gps_done = False

    def add(self, finding: Finding) -> None:
        key = (finding.category, finding.message)
        if key not in self.seen:
            self.seen.add(key)
            self.findings.append(finding)

    def finish(self) -> None:
        if self.device:
            make = self.device.get("make", "")
            model = self.device.get("model", "")
            name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
            name = name.strip()
            extras = {k: v for k, v in self.device.items() if k not in ("make", "model")}
            more = "".join(f", {k} {v}" for k, v in extras.items())
            self.add(Finding("device", "medium",
                             f"Made with {name or 'a known device'}{more}: "
                             "names your camera or phone.",
                             {**self.device, "short": f"camera {name}"}))
        if self.serials:
            listed = ", ".join(f"{k} {v}" for k, v in self.serials.items())
            self.add(Finding("serial", "high",
                             f"Serial numbers: {listed}. They tie every photo to this one device.",
                             {**self.serials, "short": f"serial {listed}"}))
        if self.times:
            listed = ", ".join(f"{k} {v}" for k, v in self.times.items())
            self.add(Finding("time", "medium", f"Timestamps: {listed}.",
                             {**self.times, "short": f"time {next(iter(self.times.values()))}"}))
        if self.software:
            listed = ", ".join(dict.fromkeys(self.software))
            self.add(Finding("software", "low", f"Software used: {listed}.",
                             {"software": list(dict.fromkeys(self.software)),
                              "short": f"software {listed}"}))
        if self.people:
            listed = ", ".join(f"{k} {v}" for k, v in self.people.items())
            self.add(Finding("person", "high", f"Names a person: {listed}.",
                             {**self.people, "short": f"names {listed}"}))
        if self.places:
            listed = ", ".join(f"{k} {v}" for k, v in self.places.items())
            self.add(Finding("place", "high", f"Names a place: {listed}.",
                             {**self.places, "short": f"place {listed}"}))


def _exif_from_bytes(raw: bytes) -> tuple[Image.Exif, bytes] | None:
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    exif = Image.Exif()
    exif.load(tiff)
    return exif, tiff


def _analyse_exif(exif: Image.Exif, tiff: bytes | None, main_size: tuple[int, int],
                  out: _Collector) -> None:
    ifd0 = dict(exif.items())
    exif_ifd: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    ifd1: dict[int, Any] = {}
    for name, target in ((ExifTags.IFD.Exif, exif_ifd), (ExifTags.IFD.GPSInfo, gps),
                         (ExifTags.IFD.IFD1, ifd1)):
        try:
            target.update(exif.get_ifd(name))
        except Exception:
            out.add(Finding("exif", "low", f"An EXIF block ({name.name}) could not be read.", {}))
    merged = {**ifd0, **exif_ifd}
    for tag, key in _IFD0_DEVICE.items():
        if tag in ifd0 and _text(ifd0[tag]):
            out.device[key] = _text(ifd0[tag])
    for tag, key in ((0xA433, "lens make"), (0xA434, "lens")):
        if tag in merged and _text(merged[tag]):
            out.device[key] = _text(merged[tag])
    for tag, key in _SERIAL_TAGS.items():
        if tag in merged and _text(merged[tag]):
            out.serials[key] = _text(merged[tag])
    if 0xA420 in merged and _text(merged[0xA420]):
        out.serials["unique image id"] = _text(merged[0xA420])
    for tag, key in _TIME_TAGS.items():
        if tag in merged and _text(merged[tag]):
            out.times[key] = _text(merged[tag])
    if 0x0131 in ifd0 and _text(ifd0[0x0131]):
        out.software.append(_text(ifd0[0x0131]))
    for tag, key in _PERSON_TAGS.items():
        if tag in merged and _text(merged[tag]):
            out.people[key] = _text(merged[tag])
    for tag, key in _XP_TAGS.items():
        value = ifd0.get(tag)
        if isinstance(value, bytes | tuple):
            raw = bytes(value)
            text = _text(raw.decode("utf-16-le", "replace").split("\x00", 1)[0])
            if text:
                out.add(Finding("comment", "medium", f"Windows {key}: {text!r}.", {key: text}))
    if 0x010E in ifd0 and _text(ifd0[0x010E]):
        text = _text(ifd0[0x010E])
        out.add(Finding("comment", "medium", f"Image description: {text!r}.",
                        {"description": text}))
    user_comment = merged.get(0x9286)
    if isinstance(user_comment, bytes) and user_comment[8:].strip(b"\x00 "):
        text = _text(user_comment[8:].decode("utf-8", "replace"))
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
            extra["date"] = _text(gps[0x1D])
        if lat is not None and lon is not None and not (lat == 0 and lon == 0):
            out.add(_gps_finding(lat, lon, "EXIF", extra))
            out.gps_done = True
        else:
            out.add(Finding("gps", "medium",
                            "A GPS block is present (no usable position, but it may hold "
                            "direction, altitude or time).",
                            {"tags": sorted(int(t) for t in gps)[:32]}))
        if "direction_deg" in extra and lat is not None:
            out.add(Finding("gps", "medium",
                            f"Compass direction {extra['direction_deg']}°: which way the camera "
                            "pointed.", {"direction_deg": extra["direction_deg"]}))

    makernote = exif_ifd.get(0x927C)
    if isinstance(makernote, bytes) and makernote:
        _analyse_makernote(makernote, tiff, out)

    if ifd1 and tiff is not None:
        offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
        if isinstance(offset, int) and isinstance(length, int) and length > 0:
            thumb = tiff[offset : offset + length]
            _thumbnail_finding("EXIF", thumb, main_size, out)
        elif ifd1:
            out.add(Finding("thumbnail", "medium",
                            "An EXIF thumbnail directory is present; it may show the uncropped "
                            "original.", {}))


def _thumbnail_finding(source: str, thumb: bytes, main_size: tuple[int, int],
                       out: _Collector) -> None:
    size = _embedded_image_size(thumb)
    detail: dict[str, Any] = {"source": source, "bytes": len(thumb)}
    message = f"An embedded {source} thumbnail ({len(thumb)} bytes)"
    severity: Severity = "medium"
    if size:
        detail["width"], detail["height"] = size[1], size[2]
        message += f", {size[1]}x{size[2]}"
        main_w, main_h = main_size
        if main_w and main_h and size[2]:
            main_ratio = main_w / main_h
            thumb_ratio = size[1] / size[2]
            if abs(main_ratio - thumb_ratio) / main_ratio > 0.05 and abs(
                main_ratio - 1 / thumb_ratio
            ) / main_ratio > 0.05:
                detail["stale"] = True
                severity = "high"
                message += (
                    f"; its shape differs from the {main_w}x{main_h} image, so it shows "
                    "a different (probably uncropped) version"
                )
    message += ". It may show the uncropped original."
    detail["short"] = "embedded thumbnail" + (" (uncropped)" if detail.get("stale") else "")
    out.add(Finding("thumbnail", severity, message, detail))


def _analyse_makernote(makernote: bytes, tiff: bytes | None, out: _Collector) -> None:
    vendor = out.device.get("make", "")
    head = makernote[:16]
    for prefix, name in ((b"Apple iOS", "Apple"), (b"Nikon", "Nikon"), (b"FUJIFILM", "Fujifilm"),
                         (b"OLYMP", "Olympus"), (b"Panasonic", "Panasonic"), (b"SONY", "Sony"),
                         (b"QVC", "Casio")):
        if head.startswith(prefix):
            vendor = name
            break
    detail: dict[str, Any] = {"vendor": vendor, "bytes": len(makernote), "short": "MakerNote"}
    out.add(Finding("makernote", "medium",
                    f"A {vendor + ' ' if vendor else ''}MakerNote ({len(makernote)} bytes): "
                    "undocumented vendor data, often with serial numbers and camera settings.",
                    detail))
    if head.startswith(b"Apple iOS"):
        if b"bplist" in makernote:
            out.add(Finding("session", "medium",
                            "An Apple RunTime clock value: it links photos taken in the same "
                            "session (since the phone last started).", {"vendor": "Apple",
                                                                        "short": "RunTime id"}))
        return
    if vendor.lower().startswith("canon") and tiff is not None:
        serial = _canon_internal_serial(makernote, tiff)
        if serial:
            out.serials["internal serial"] = serial


_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def _canon_internal_serial(makernote: bytes, tiff: bytes) -> str | None:
    """Canon's InternalSerialNumber (tag 0x0096); offsets are relative to the TIFF header."""
    if len(makernote) < 14:
        return None
    # Editors that rewrite the TIFF in the other byte order leave the MakerNote as it was.
    tiff_endian = "<" if tiff[:2] == b"II" else ">"
    for endian in (tiff_endian, ">" if tiff_endian == "<" else "<"):
        (count,) = struct.unpack(endian + "H", makernote[:2])
        (first_type,) = struct.unpack(endian + "H", makernote[4:6])
        if 0 < count <= 512 and 2 + 12 * count <= len(makernote) and 1 <= first_type <= 13:
            break
    else:
        return None
    entries = []
    for index in range(count):
        tag, kind, n, value = struct.unpack(
            endian + "HHII", makernote[2 + 12 * index : 14 + 12 * index]
        )
        entries.append((tag, kind, n, value))
    # Editors move the MakerNote without fixing its offsets: re-base on where its
    # first out-of-line value should sit, as ExifTool does.
    base = 0
    position = tiff.find(makernote[:64])
    out_of_line = [value for _t, kind, n, value in entries if _TIFF_TYPE_SIZE.get(kind, 1) * n > 4]
    if position >= 0 and out_of_line:
        expected_first = position + 2 + 12 * count + 4
        base = expected_first - min(out_of_line)
        if abs(base) > len(tiff):
            base = 0
    for tag, kind, n, value in entries:
        if tag == 0x0096 and kind in (2, 7) and 0 < n <= 64:
            raw = (makernote[2 + 12 * entries.index((tag, kind, n, value)) + 8 :][:n] if n <= 4
                   else tiff[value + base : value + base + n])
            text = _text(raw)
            if text and all(ch.isalnum() or ch in "-_ " for ch in text):
                return text
    return None


# ---------------------------------------------------------------- XMP

_XMP_ATTR = re.compile(r"([A-Za-z][\w.-]*):([A-Za-z][\w-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_XMP_ELEM = re.compile(r"<([A-Za-z][\w.-]*):([A-Za-z][\w-]*)(?:\s[^>]*)?>([^<]*)</\1:\2>")
_XMP_SEQ = re.compile(
    r"<([A-Za-z][\w.-]*):([A-Za-z][\w-]*)(?:\s[^>]*)?>\s*<rdf:(?:Seq|Bag|Alt)[^>]*>(.*?)"
    r"</rdf:(?:Seq|Bag|Alt)>", re.S,
)
_XMP_LI = re.compile(r"<rdf:li(?:\s[^>]*)?>([^<]+)</rdf:li>")

_XMP_DEVICE = {"make": "make", "model": "model", "lens": "lens", "lensmodel": "lens"}
_XMP_SERIAL = {"serialnumber": "body serial number", "bodyserialnumber": "body serial number",
               "lensserialnumber": "lens serial number",
               "internalserialnumber": "internal serial", "droneid": "drone id",
               "captureuuid": "capture id", "imageuniqueid": "unique image id",
               "cameraserialnumber": "camera serial number"}
_XMP_TIME = {"datetimeoriginal": "taken", "createdate": "created", "modifydate": "modified",
             "metadatadate": "metadata edited", "datecreated": "created",
             "datetimedigitized": "digitised"}
_XMP_PERSON = {"creator": "creator", "ownername": "owner", "artist": "artist",
               "personinimage": "person shown", "rights": "rights", "byline": "by-line",
               "authorsposition": "author's position", "cameraownername": "camera owner"}
_XMP_PLACE = {"city": "city", "state": "state", "country": "country", "location": "location",
              "sublocation": "sub-location", "countrycode": "country code"}
_XMP_IDS = {"documentid", "instanceid", "originaldocumentid", "preservedfilename",
            "rawfilename"}


def _xmp_properties(xmp: str) -> Iterator[tuple[str, str, str]]:
    for match in _XMP_ATTR.finditer(xmp):
        prefix, local = match.group(1), match.group(2)
        if prefix in ("xmlns", "xml", "x"):
            continue
        yield prefix, local, match.group(3) if match.group(3) is not None else match.group(4)
    for match in _XMP_ELEM.finditer(xmp):
        yield match.group(1), match.group(2), match.group(3)
    for match in _XMP_SEQ.finditer(xmp):
        values = [v.strip() for v in _XMP_LI.findall(match.group(3)) if v.strip()]
        if values:
            yield match.group(1), match.group(2), ", ".join(values[:MAX_LISTED_VALUES])


def _xmp_coordinate(value: str) -> float | None:
    """XMP GPS: "35,39.516N", "35,39,31N" (exif:) or a plain decimal (DJI drones)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?\s*([NSEW])", value)
    if not match:
        return None
    decimal = float(match.group(1)) + float(match.group(2)) / 60
    if match.group(3):
        decimal += float(match.group(3)) / 3600
    return -decimal if match.group(4) in "SW" else decimal


def _analyse_xmp(raw: bytes, out: _Collector) -> None:
    xmp = raw[:MAX_XMP_SCAN].decode("utf-8", "replace")
    lat = lon = None
    gps_prefix = ""
    history: list[str] = []
    region_names: list[str] = []
    regions = bool(re.search(r"RegionInfo|mwg-rs:Regions|MPRI:Regions", xmp))
    ids: list[str] = []
    for prefix, local, value in _xmp_properties(xmp):
        key = local.lower()
        text = _text(value)
        if not text:
            continue
        if key in ("gpslatitude", "latitude"):
            lat, gps_prefix = _xmp_coordinate(text), prefix
        elif key in ("gpslongitude", "longitude"):
            lon = _xmp_coordinate(text)
        elif key in _XMP_DEVICE and prefix in ("tiff", "aux", "exifEX", "exif"):
            out.device.setdefault(_XMP_DEVICE[key], text)
        elif key in _XMP_SERIAL:
            out.serials.setdefault(_XMP_SERIAL[key], text)
        elif key in _XMP_TIME:
            out.times.setdefault(_XMP_TIME[key], text)
        elif key in ("creatortool", "softwareagent") or (key == "software" and prefix != "stEvt"):
            out.software.append(text)
        elif key in _XMP_PERSON:
            out.people.setdefault(_XMP_PERSON[key], text)
        elif key in _XMP_PLACE:
            out.places.setdefault(_XMP_PLACE[key], text)
        elif key in ("persondisplayname", "name") and regions and prefix in (
            "MPReg", "mwg-rs", "MP"
        ):
            region_names.append(text)
        elif key == "action" and prefix == "stEvt":
            history.append(text)
        elif key in _XMP_IDS:
            ids.append(f"{local}={text}")
        elif key in ("description", "title", "subject", "headline", "caption", "usercomment",
                     "label", "keywords"):
            out.add(Finding("comment", "medium", f"XMP {local}: {text!r}.", {local: text}))
    if lat is not None and lon is not None and not out.gps_done and not (lat == 0 and lon == 0):
        out.add(_gps_finding(lat, lon, f"XMP {gps_prefix}".strip(), {}))
        out.gps_done = True
    if "History" in xmp and ("stEvt" in xmp or history):
        out.add(Finding("history", "medium",
                        f"XMP edit history ({len(history)} steps: "
                        f"{', '.join(history[:MAX_LISTED_VALUES]) or 'unknown'}): when and with "
                        "what the photo was edited.",
                        {"actions": history[:32], "short": "edit history"}))
    if ids:
        out.add(Finding("history", "low",
                        "XMP document ids: they link this file to its originals and other copies.",
                        {"ids": ids[:MAX_LISTED_VALUES]}))
    if regions:
        names = list(dict.fromkeys(region_names))
        if names:
            out.add(Finding("faces", "high",
                            f"Face regions tagged with names: {', '.join(names)}.",
                            {"names": names, "short": f"faces named {', '.join(names)}"}))
        else:
            out.add(Finding("faces", "medium", "XMP face or object regions are marked.", {}))
    out.add(Finding("xmp", "low", f"An XMP packet ({len(raw)} bytes) of descriptive metadata.",
                    {"bytes": len(raw), "short": "XMP metadata"}))


# ---------------------------------------------------------------- other blocks


def _analyse_icc(icc: bytes, out: _Collector) -> None:
    detail: dict[str, Any] = {"bytes": len(icc)}
    description = ""
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
        description = _text(profile.profile_description or "")
    except Exception:
        description = "unreadable"
    detail["description"] = description
    device_maker = icc[48:52] if len(icc) >= 56 else b""
    device_model = icc[52:56] if len(icc) >= 56 else b""
    # Standard profiles carry placeholders ("none", IEC sRGB) rather than a device.
    names_device = device_maker.strip(b"\x00 ").lower() not in (b"", b"none", b"iec") or (
        device_model.strip(b"\x00 ").lower() not in (b"", b"none", b"srgb")
    )
    message = f"A colour profile ({description or 'unnamed'}, {len(icc)} bytes)"
    severity: Severity = "low"
    if names_device:
        maker = _text(device_maker) or device_maker.hex()
        model = _text(device_model) or device_model.hex()
        detail["device_manufacturer"], detail["device_model"] = maker, model
        message += f" that names a device ({maker} {model})"
        severity = "medium"
    out.add(Finding("icc", severity, message + ".", {**detail, "short": "colour profile"}))


def _analyse_photoshop(resources: dict[int, bytes], out: _Collector) -> None:
    names = {0x0404: "IPTC", 0x040C: "thumbnail", 0x0409: "thumbnail", 0x0421: "version info",
             0x0425: "IPTC digest", 0x041E: "URL list", 0x040B: "URL"}
    listed = sorted({names.get(key, f"0x{key:04x}") for key in resources})
    out.add(Finding("photoshop", "medium",
                    f"Photoshop data blocks ({', '.join(listed)}): editing traces.",
                    {"resources": listed, "short": "Photoshop data"}))
    for key in (0x040C, 0x0409):
        block = resources.get(key)
        if isinstance(block, bytes) and len(block) > 28:
            thumb = block[28:]
            _thumbnail_finding("Photoshop", thumb, (0, 0), out)
    version = resources.get(0x0421)
    if isinstance(version, bytes) and b"P\x00h\x00o\x00t\x00o" in version:
        out.software.append("Adobe Photoshop")


def _analyse_iptc(image: Image.Image, out: _Collector) -> None:
    from PIL import IptcImagePlugin

    try:
        iptc = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]
    except Exception:
        return
    if not iptc:
        return
    fields = {(2, 80): "by-line", (2, 90): "city", (2, 101): "country", (2, 95): "state",
              (2, 92): "sub-location", (2, 116): "copyright", (2, 120): "caption",
              (2, 55): "date created", (2, 65): "program", (2, 25): "keywords"}
    found: dict[str, str] = {}
    for key, label in fields.items():
        value = iptc.get(key)
        if isinstance(value, list):
            value = b", ".join(v for v in value if isinstance(v, bytes))
        if isinstance(value, bytes) and value.strip():
            found[label] = _text(value)
    for label in ("city", "country", "state", "sub-location"):
        if label in found:
            out.places.setdefault(label, found[label])
    if "by-line" in found:
        out.people.setdefault("by-line", found["by-line"])
    out.add(Finding("iptc", "medium",
                    "An IPTC record (news-agency captions, names, places)"
                    + (f": {', '.join(f'{k} {v}' for k, v in found.items())}" if found else "")
                    + ".", {**found, "short": "IPTC record"}))


def _png_text(kind: str, payload: bytes) -> tuple[str, str]:
    keyword, _, rest = payload.partition(b"\x00")
    key = _text(keyword.decode("latin-1"), 60)
    value = ""
    try:
        if kind == "tEXt":
            value = rest.decode("latin-1")
        elif kind == "zTXt":
            # Bounded inflate: a zTXt bomb must not expand here.
            value = zlib.decompressobj().decompress(rest[1:], 4096).decode("latin-1")
        elif kind == "iTXt":
            compressed = rest[:1] == b"\x01"
            parts = rest[2:].split(b"\x00", 2)
            text_bytes = parts[2] if len(parts) == 3 else b""
            if compressed:
                text_bytes = zlib.decompressobj().decompress(text_bytes, MAX_XMP_SCAN)
            value = text_bytes.decode("utf-8", "replace")
    except (zlib.error, ValueError):
        value = "(unreadable)"
    return key, value


# ---------------------------------------------------------------- entry point


def inspect_image(data: bytes) -> PrivacyReport:
    """List what the image carries besides its pixels. Never decodes pixel data."""
    if len(data) > MAX_INSPECT_BYTES:
        raise ImageRejected(
            f"the file is {len(data) // (1024 * 1024)} MiB, over the "
            f"{MAX_INSPECT_BYTES // (1024 * 1024)} MiB inspection limit"
        )
    kind = _sniff(data)
    _register_heif()
    try:
        image = _open_header(data)
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected(
            "this is not an image p2pchat can read (not a recognised image format"
            + (f"; it looks like {kind}, which could not be parsed)" if kind != "unknown" else ")")
        ) from None
    except Exception as error:
        raise ImageRejected(
            f"this is not an image p2pchat can read "
            f"({kind if kind != 'unknown' else 'unknown format'}: {_text(error, 80)})"
        ) from None
    fmt = str(image.format or kind)
    width, height = image.size
    out = _Collector()
    try:
        with warnings.catch_warnings():
            # Pillow warns about malformed EXIF tags; they are reported as findings instead.
            warnings.simplefilter("ignore", UserWarning)
            _inspect_into(data, kind, image, out)
    except ImageRejected:
        raise
    except Exception as error:  # a malformed block: say so rather than crash
        out.add(Finding("malformed", "medium",
                        f"Part of the metadata is malformed and could not be read fully "
                        f"({_text(error, 80)}).", {}))
    out.finish()
    return PrivacyReport(fmt, width, height, sorted(out.findings, key=_importance))


def _inspect_into(data: bytes, kind: str, image: Image.Image, out: _Collector) -> None:
    main_size = image.size
    exif_raw: bytes | None = None
    xmp_raw: bytes | None = None
    icc: bytes | None = image.info.get("icc_profile") or None
    container: _Container | None = None
    if kind == "JPEG":
        container = _walk_jpeg(data)
        for segment, payload in container.segments:
            if segment == "APP1" and payload.startswith(b"Exif\x00") and exif_raw is None:
                exif_raw = payload
            elif segment == "APP1" and payload.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
                xmp_raw = payload[29:]
            elif segment == "COM":
                text = _text(payload, 200)
                if text:
                    out.add(Finding("comment", "medium", f"A JPEG comment: {text!r}.",
                                    {"comment": text, "short": "comment"}))
            elif segment == "APP2" and payload.startswith(b"MPF\x00"):
                pass  # reported through the frame count below
            elif segment == "APP13":
                pass  # read through Pillow's "photoshop" dict below
    elif kind == "PNG":
        container = _walk_png(data)
        for chunk, payload in container.segments:
            if chunk in ("tEXt", "zTXt", "iTXt"):
                key, value = _png_text(chunk, payload)
                if key == "XML:com.adobe.xmp":
                    xmp_raw = value.encode("utf-8")
                    continue
                if key.lower() == "raw profile type exif" or key.lower() == "raw profile type app1":
                    out.add(Finding("exif", "medium", "EXIF data hidden in a PNG text chunk.",
                                    {"chunk": chunk, "keyword": key}))
                    continue
                shown = _text(value, 120)
                out.add(Finding("text", "medium",
                                f"A PNG {chunk} text chunk {key!r}: {shown!r}.",
                                {"chunk": chunk, "keyword": key, "value": shown,
                                 "short": f"PNG text {key}"}))
            elif chunk == "eXIf":
                exif_raw = payload
            elif chunk == "tIME":
                out.add(Finding("time", "low", "A PNG modification time (tIME chunk).", {}))
    elif kind == "GIF":
        container = _walk_gif(data)
        for block, payload in container.segments:
            if block == "comment":
                text = _text(payload, 200)
                out.add(Finding("comment", "medium", f"A GIF comment: {text!r}.",
                                {"comment": text, "short": "GIF comment"}))
            elif block == "application" and payload.startswith(b"XMP DataXMP"):
                xmp_raw = payload[11:]
            elif block == "plaintext":
                out.add(Finding("text", "medium", "A GIF plain-text block.", {}))
    elif kind == "WEBP":
        container = _walk_riff(data)
        for chunk, payload in container.segments:
            if chunk == "EXIF":
                exif_raw = payload
            elif chunk == "XMP ":
                xmp_raw = payload
            elif chunk == "ICCP":
                icc = icc or payload

    if exif_raw is None and (kind in ("TIFF", "HEIF") or "exif" in image.info):
        raw = image.info.get("exif")
        if isinstance(raw, bytes):
            exif_raw = raw
    exif_pair: tuple[Image.Exif, bytes | None] | None = None
    if exif_raw:
        try:
            exif_pair = _exif_from_bytes(exif_raw)
        except Exception:
            out.add(Finding("exif", "medium", "An EXIF block is present but malformed.", {}))
    elif kind == "TIFF":
        exif_pair = (image.getexif(), None)  # TIFF tags are the EXIF
    if exif_pair is not None:
        _analyse_exif(exif_pair[0], exif_pair[1], main_size, out)
        out.add(Finding("exif", "low",
                        f"An EXIF block ({len(exif_raw) if exif_raw else 'TIFF tags'}"
                        f"{' bytes' if exif_raw else ''}) of camera metadata.",
                        {"short": "EXIF metadata"}))
    if xmp_raw is None:
        candidate = image.info.get("xmp")
        if isinstance(candidate, bytes | str):
            xmp_raw = candidate.encode("utf-8") if isinstance(candidate, str) else candidate
    if xmp_raw:
        _analyse_xmp(xmp_raw, out)
    if icc:
        _analyse_icc(bytes(icc), out)
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict) and photoshop:
        _analyse_photoshop(photoshop, out)
    if kind in ("JPEG", "TIFF"):
        _analyse_iptc(image, out)

    frames = container.frames if container else 1
    if kind != "GIF":  # GIF frames were counted by the walker without decoding them
        with contextlib.suppress(Exception):
            frames = max(frames, int(getattr(image, "n_frames", 1)))
    if image.format == "MPO" or frames > 1:
        what = "an MPO second picture (often a preview or a stereo twin)" if image.format == "MPO" \
            else f"{frames} frames"
        out.add(Finding("frames", "medium",
                        f"The file holds {what}; only the first is shown by most viewers.",
                        {"frames": frames, "short": f"{frames} frames"}))
    if kind == "HEIF":
        _analyse_heif(data, out)

    if container is not None:
        for problem in container.problems[:3]:
            out.add(Finding("malformed", "low", f"Structure problem: {problem}.", {}))
        if container.image_end is not None and container.image_end < len(data):
            _trailer_finding(kind, data[container.image_end :], image.format == "MPO", out)


def _trailer_finding(kind: str, trailer: bytes, is_mpo: bool, out: _Collector) -> None:
    if not trailer.strip(b"\x00\xff"):
        out.add(Finding("trailer", "low",
                        f"{len(trailer)} padding bytes after the end of the image.",
                        {"bytes": len(trailer)}))
        return
    end_name = {"JPEG": "end-of-image marker", "PNG": "IEND chunk", "GIF": "GIF trailer",
                "WEBP": "RIFF chunk"}.get(kind, "image end")
    detail: dict[str, Any] = {"bytes": len(trailer), "short": f"{len(trailer)} hidden bytes"}
    message = f"{len(trailer)} bytes hidden after the {end_name}"
    embedded = None
    for signature in (b"\xff\xd8\xff", _PNG_SIGNATURE, b"GIF8"):
        at = trailer.find(signature)
        if 0 <= at < 1024 * 1024:
            embedded = _embedded_image_size(trailer[at:])
            if embedded:
                detail["offset"] = at
                break
    if embedded:
        detail.update(embedded_format=embedded[0], width=embedded[1], height=embedded[2])
        detail["short"] += f" (a {embedded[1]}x{embedded[2]} picture)"
        message += f": they contain another picture ({embedded[0]} {embedded[1]}x{embedded[2]})"
        if is_mpo:
            message += " (the MPO's second frame)"
    elif kind == "PNG" and (b"IDAT" in trailer or b"IEND" in trailer):
        detail["acropalypse"] = True
        detail["short"] += " (leftover of the uncropped original)"
        message += (": leftover PNG image data, typically the uncropped original of an "
                    "edited screenshot (aCropalypse)")
    message += ". Viewers ignore it, but anyone can extract it."
    out.add(Finding("trailer", "high", message, detail))


def _analyse_heif(data: bytes, out: _Collector) -> None:
    try:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except Exception:
        return
    extras: list[str] = []
    if len(heif) > 1:
        extras.append(f"{len(heif) - 1} more top-level images")
    for image in heif:
        c_image = getattr(image, "_c_image", None)
        if c_image is None:
            continue
        try:
            thumbnails = [t for t in c_image.thumbnails if t is not None]
            depth = [d for d in c_image.depth_image_list if d is not None]
            aux_types = [str(c_image.get_aux_type(i)) for i in c_image.aux_image_ids]
        except Exception:  # noqa: S112 - an unreadable item is simply not listed
            continue
        if thumbnails:
            extras.append(f"{len(thumbnails)} thumbnail(s)")
        if depth:
            extras.append(f"{len(depth)} depth map(s)")
        for aux in aux_types:
            extras.append("an HDR gain map" if "gainmap" in aux.lower()
                          else f"auxiliary image {aux}")
    if extras:
        out.add(Finding("frames", "medium",
                        f"The HEIF container also holds {', '.join(extras)}; a thumbnail may "
                        "show the uncropped original, a depth map the scene's shape.",
                        {"extras": extras, "short": "HEIF extra images"}))


_heif_registered = False


def _register_heif() -> None:
    """Register pillow-heif once, with thumbnails, depth and auxiliary images off."""
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    except Exception:  # noqa: S110 - pillow-heif missing or broken: HEIC is then unreadable
        pass
    _heif_registered = True
    ImageFile.LOAD_TRUNCATED_IMAGES = False
