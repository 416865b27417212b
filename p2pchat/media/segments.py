"""Every segment, chunk and box a file carries, named: the known decoded, the rest by size.

Owns the signature tables of JPEG application segments (APP0-APP15), PNG chunks, WebP
chunks, GIF application blocks and HEIF top-level boxes. Structural ones stay silent;
metadata the other readers decode (EXIF, XMP, ICC, IPTC, JUMBF) is left to them;
vendor blocks are named (Casio QVCI is decoded: date, model, manufacture number);
anything else is "an unknown APP11 block of 1.2 kB", with the readable text it holds
and, if that text looks like a position, a GPS finding. Nothing a file carries goes
unmentioned because no reader knew it.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import struct
from typing import Any

from p2pchat.media.collector import FindingCollector, as_label, gps_finding
from p2pchat.media.container_findings import png_text, thumbnail_finding
from p2pchat.media.containers import Container
from p2pchat.media.iptc import parse_iim, report_iim
from p2pchat.media.jumbf import analyse_jumbf, jpeg_jumbf
from p2pchat.media.report import Finding
from p2pchat.media.xmp_findings import analyse_xmp

MAX_TEXT = 160
# Named one by one up to here, then counted: a report must stay small (it crosses a pipe).
MAX_NAMED_BLOCKS = 32
_SCAN = 65536

# Silent: structure, or decoded by another reader (exif, xmp, icc, photoshop, jumbf).
_JPEG_HANDLED: tuple[tuple[str, bytes], ...] = (
    ("APP0", b"JFIF\x00"),
    ("APP0", b"JFXX\x00"),
    ("APP0", b"AVI1"),
    ("APP1", b"Exif\x00"),
    ("APP1", b"http://ns.adobe.com/xap/1.0/\x00"),
    ("APP1", b"http://ns.adobe.com/xmp/extension/\x00"),
    ("APP1", b"QVCI\x00"),
    ("APP2", b"ICC_PROFILE\x00"),
    ("APP2", b"MPF\x00"),
    ("APP6", b"NITF\x00"),
    ("APP8", b"SPIFF\x00"),
    ("APP11", b"JP"),
    ("APP13", b"Photoshop 3.0\x00"),
    ("APP13", b"Adobe_CM"),
    ("APP14", b"Adobe"),
    ("APP15", b"Q "),  # GraphicConverter's quality setting
)
# Named vendor blocks: reported with their size and readable text.
_JPEG_VENDOR: tuple[tuple[str, bytes, str], ...] = (
    ("APP0", b"II\x1a\x00\x00\x00HEAPJPGM", "Canon CIFF camera record"),
    ("APP2", b"FPXR\x00", "FlashPix block (may hold a preview image)"),
    ("APP3", b"Meta\x00", "Kodak Meta block"),
    ("APP3", b"META\x00", "Kodak Meta block"),
    ("APP4", b"SCALADO", "Scalado block"),
    ("APP5", b"RMETA\x00", "Ricoh RMETA block"),
    ("APP6", b"EPPIM\x00", "PrintIM block"),
    ("APP6", b"GoPro", "GoPro block"),
    ("APP6", b"HP TDHD", "HP TDHD block"),
    ("APP7", b"\x1aQualcomm", "Qualcomm camera-settings block"),
    ("APP9", b"Media Jukebox", "Media Jukebox block"),
    ("APP10", b"UNICODE\x00", "PhotoStudio comment"),
    ("APP11", b"HDR_RI", "JPEG-HDR block"),
    ("APP12", b"Ducky", "Photoshop 'Ducky' block"),
    ("APP12", b"Agfa", "PictureInfo block"),
    ("APP12", b"[picture info]", "PictureInfo block"),
)
_PNG_KNOWN = {
    *("IHDR", "PLTE", "IDAT", "IEND", "tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB"),
    *("cICP", "mDCV", "cLLI", "tEXt", "zTXt", "iTXt", "bKGD", "hIST", "pHYs", "sPLT"),
    *("eXIf", "tIME", "acTL", "fcTL", "fdAT", "oFFs", "pCAL", "sCAL", "sTER", "iDOT"),
    *("caBX", "vpAg", "orNT"),
}
_RIFF_KNOWN = {"VP8 ", "VP8L", "VP8X", "ALPH", "ANIM", "ANMF", "ICCP", "EXIF", "XMP ", "C2PA"}
_GIF_KNOWN = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"XMP DataXMP", b"ICCRGBG1")
_HEIF_KNOWN = {"ftyp", "meta", "mdat", "free", "skip", "moov", "wide", "pnot", "uuid", "idat"}

_ASCII_RUN = re.compile(rb"[\x20-\x7e]{4,}")
_UTF16_RUN = re.compile(rb"(?:[\x20-\x7e]\x00){4,}")
_POSITION = re.compile(
    r"([-+]?\d{1,2}(?:\.\d+)?)\s*°?\s*([NS])?[\s,;/]+([-+]?\d{1,3}(?:\.\d+)?)\s*°?\s*([EW])?"
)
_GPS_WORDS = re.compile(r"\b(?:GPS|lat(?:itude)?|lon(?:gitude)?|lng)\b", re.I)


def size_text(count: int) -> str:
    if count < 1000:
        return f"{count} bytes"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


def readable_text(payload: bytes, limit: int = MAX_TEXT) -> str:
    """The printable runs of a binary block (ASCII, then UTF-16), joined and bounded."""
    head = payload[:_SCAN]
    runs = [match.group().decode("ascii").strip() for match in _ASCII_RUN.finditer(head)]
    runs += [
        match.group().decode("utf-16-le", "replace").strip() for match in _UTF16_RUN.finditer(head)
    ]
    return as_label(" | ".join(run for run in runs if run), limit)


def position_in_text(text: str) -> tuple[float, float] | None:
    """A latitude/longitude pair written as text next to a GPS word, or None."""
    if not _GPS_WORDS.search(text):
        return None
    for match in _POSITION.finditer(text):
        try:
            lat, lon = float(match.group(1)), float(match.group(3))
        except ValueError:
            continue
        if match.group(2) == "S":
            lat = -lat
        if match.group(4) == "W":
            lon = -lon
        if abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0, 0) and "." in match.group(0):
            return lat, lon
    return None


def _block_finding(
    category: str, where: str, what: str, payload: bytes, out: FindingCollector
) -> None:
    if out.named_blocks >= MAX_NAMED_BLOCKS:
        out.more_blocks.append(len(payload))
        return
    out.named_blocks += 1
    text = readable_text(payload)
    message = f"{what} of {size_text(len(payload))}"
    if text:
        message += f" with readable text {text!r}"
    message += ": data viewers do not show, which may identify the camera, a person or a place."
    short = what.split(" ", 1)[1] if what.startswith(("A ", "An ")) else what
    detail: dict[str, Any] = {"where": where, "bytes": len(payload), "short": short}
    if text:
        detail["text"] = text
    out.add(Finding(category, "medium", message, detail))
    position = position_in_text(text) if text else None
    if position and not out.gps_done:
        out.add(gps_finding(position[0], position[1], f"text in {where}", {}))
        out.gps_done = True


def report_jpeg_segments(segments: list[tuple[str, bytes]], out: FindingCollector) -> None:
    """Name every JPEG application segment that no other reader decodes."""
    for kind, payload in segments:
        if kind == "COM" or any(kind == k and payload.startswith(s) for k, s in _JPEG_HANDLED):
            if kind == "APP1" and payload.startswith(b"QVCI\x00"):
                _casio_qvci(payload, out)
            elif kind == "APP0" and payload.startswith(b"JFXX\x00\x10"):
                thumbnail_finding("JFIF extension", payload[6:], (0, 0), out)
            continue
        vendor = next(
            (name for k, sig, name in _JPEG_VENDOR if kind == k and payload.startswith(sig)), None
        )
        if vendor:
            article = "An" if vendor[0] in "AEIOU" else "A"
            _block_finding("vendor", kind, f"{article} {vendor} in {kind}", payload, out)
        else:
            _block_finding("unknown", kind, f"An unknown {kind} block", payload, out)


def _casio_qvci(payload: bytes, out: FindingCollector) -> None:
    """Casio QV-7000SX "QVCI" APP1: fixed offsets (ExifTool's Casio::QVCI table)."""

    def field(offset: int, size: int) -> str:
        return as_label(payload[offset : offset + size].split(b"\x00", 1)[0], 40)

    taken, model = field(0x4D, 20), field(0x62, 7)
    index, code = field(0x72, 9), field(0x7C, 9)
    if model:
        out.device.setdefault("make", "Casio")
        out.device.setdefault("model", model)
    if re.fullmatch(r"\d{4}\.\d\d\.\d\d\.\d\d\.\d\d\.\d\d", taken):
        day, clock = taken[:10].replace(".", ":"), taken[11:].replace(".", ":")
        out.times.setdefault("taken", f"{day} {clock}")
    if index.isdigit():
        out.serials.setdefault("Casio manufacture number", index)
    if code.isdigit():
        out.serials.setdefault("Casio manufacture code", code)
    out.add(
        Finding(
            "vendor",
            "medium",
            f"A Casio QVCI block in APP1 ({size_text(len(payload))}): capture date, model "
            "and a manufacture number of the camera.",
            {"where": "APP1", "bytes": len(payload), "short": "Casio QVCI block"},
        )
    )


def report_png_chunks(chunks: list[tuple[str, bytes]], out: FindingCollector) -> None:
    for kind, payload in chunks:
        if kind not in _PNG_KNOWN:
            _block_finding("unknown", kind, f"An unknown PNG chunk {kind!r}", payload, out)


def report_riff_chunks(chunks: list[tuple[str, bytes]], out: FindingCollector) -> None:
    for kind, payload in chunks:
        if kind not in _RIFF_KNOWN:
            name = as_label(kind, 8)
            _block_finding("unknown", name, f"An unknown WebP chunk {name!r}", payload, out)


def report_gif_blocks(blocks: list[tuple[str, bytes]], out: FindingCollector) -> None:
    for kind, payload in blocks:
        if kind == "application" and not payload.startswith(_GIF_KNOWN):
            name = as_label(payload[:11].decode("latin-1"), 11)
            what = f"A GIF application block {name!r}"
            _block_finding("unknown", "GIF", what, payload[11:], out)


def heif_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """Top-level ISO-BMFF boxes: (type, start of payload, end), bounds-checked."""
    boxes: list[tuple[str, int, int]] = []
    pos = 0
    while pos + 8 <= len(data) and len(boxes) < 256:
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        header = 8
        if size == 1 and pos + 16 <= len(data):
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            break
        boxes.append((kind, pos + header, pos + size))
        pos += size
    return boxes


_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


def report_heif_boxes(data: bytes, out: FindingCollector) -> None:
    for kind, start, end in heif_boxes(data):
        if kind == "uuid" and data[start : start + 16] == _C2PA_UUID:
            # version and flags, a purpose string, a merkle offset, then the JUMBF store
            at = data.find(b"jumb", start + 16, min(end, start + 256))
            if at >= 4:
                analyse_jumbf(data[at - 4 : end], "a HEIF uuid box", out)
        elif kind == "moov":
            _movie_time(data[start:end], out)
        elif kind not in _HEIF_KNOWN:
            name = as_label(kind, 8)
            what = f"An unknown top-level box {name!r}"
            _block_finding("unknown", name, what, data[start : min(end, start + _SCAN)], out)


_EPOCH_1904 = 2_082_844_800  # seconds from 1904-01-01 (ISO-BMFF's epoch) to 1970-01-01


def _movie_time(moov: bytes, out: FindingCollector) -> None:
    """An image sequence's (AVIF, HEIF burst) movie header keeps when it was made."""
    at = moov.find(b"mvhd")
    if at < 4 or at + 24 > len(moov):
        return
    if moov[at + 4] == 1:
        (created,) = struct.unpack(">Q", moov[at + 8 : at + 16])
    else:
        (created,) = struct.unpack(">I", moov[at + 8 : at + 12])
    if created > _EPOCH_1904:
        with contextlib.suppress(ValueError, OverflowError, OSError):
            when = datetime.datetime.fromtimestamp(created - _EPOCH_1904, datetime.UTC)
            out.times.setdefault("created (movie header)", when.strftime("%Y:%m:%d %H:%M:%S"))


def report_segments(
    data: bytes, kind: str, container: Container | None, out: FindingCollector
) -> None:
    """Name the blocks no other reader decodes; decode JUMBF, extended XMP and stray IPTC."""
    if container is None:
        if kind == "HEIF":
            report_heif_boxes(data, out)
        return
    if kind == "JPEG":
        report_jpeg_segments(container.segments, out)
        for box in jpeg_jumbf(container.segments)[:8]:
            analyse_jumbf(box, "APP11", out)
        extended = extended_xmp(container.segments)
        if extended:
            analyse_xmp(extended, out)
    elif kind == "PNG":
        report_png_chunks(container.segments, out)
        for chunk, payload in container.segments:
            if chunk == "caBX":
                analyse_jumbf(payload, "a PNG caBX chunk", out)
            elif chunk in ("tEXt", "zTXt", "iTXt"):
                _png_raw_profile(chunk, payload, out)
    elif kind == "WEBP":
        report_riff_chunks(container.segments, out)
        for chunk, payload in container.segments:
            if chunk == "C2PA":
                analyse_jumbf(payload, "a WebP C2PA chunk", out)
    elif kind == "GIF":
        report_gif_blocks(container.segments, out)
        for block, payload in container.segments:
            if block == "application" and payload.startswith((b"MGKIPTC0000", b"MGK8BIM0000")):
                records = parse_iim(payload[11:])
                if records:
                    report_iim(records, "in a GIF application block", out)
    end = container.image_end
    if end is not None and end < len(data):
        trailer = data[end:]
        records = parse_iim(trailer)
        if records:
            where = (
                "in an AFCP trailer"
                if b"AXS!" in trailer or b"AXS*" in trailer
                else ("in the bytes after the image")
            )
            report_iim(records, where, out)


def _png_raw_profile(chunk: str, payload: bytes, out: FindingCollector) -> None:
    """ImageMagick's "Raw profile type iptc" (or 8bim): hex text around an IPTC record."""
    key, value = png_text(chunk, payload)
    if key.lower() not in ("raw profile type iptc", "raw profile type 8bim"):
        return
    lines = value.strip().split("\n")
    try:
        raw = bytes.fromhex("".join(line.strip() for line in lines[2:]))
    except ValueError:
        return
    records = parse_iim(raw)
    if records:
        report_iim(records, f"in a PNG {chunk} chunk", out)


def extended_xmp(segments: list[tuple[str, bytes]]) -> bytes:
    """Adobe's extended XMP: the rest of a packet too large for one APP1, in pieces."""
    parts: list[tuple[int, bytes]] = []
    for kind, payload in segments:
        if kind == "APP1" and payload.startswith(_EXTENDED_XMP) and len(payload) >= 75:
            (offset,) = struct.unpack(">I", payload[71:75])
            parts.append((offset, payload[75:]))
    parts.sort(key=lambda item: item[0])
    return b"".join(body for _offset, body in parts)[: 4 * 1024 * 1024]


_EXTENDED_XMP = b"http://ns.adobe.com/xmp/extension/\x00"
