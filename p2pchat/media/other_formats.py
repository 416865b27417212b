"""Metadata in the files `inspect` has no block-by-block walker for.

``inspect`` walks JPEG, PNG, GIF, WebP, TIFF and HEIF files structure by structure.
It opens whatever else Pillow opens too (PSD, EPS, JPEG 2000, PNM, PCD, BLP, ICO...),
and those files keep metadata in the same few forms: XMP packets, Photoshop image
resources (IPTC, EXIF, XMP, thumbnails), EXIF/TIFF directories in a box of their own,
and text comments of their format (PostScript header lines, PNM ``#`` comments,
JPEG 2000 COM markers, a Photo CD's image pack info). This module finds those with
bounded scans of the bytes and hands them to the same readers as the walked formats.
A scan can miss what a walker would find, so such a file's report always says that it
may be incomplete: "nothing found" must never be said about a file not read in full.
"""

from __future__ import annotations

import datetime
import re
import struct

from PIL import Image

from p2pchat.media.collector import FindingCollector, add_named, as_label
from p2pchat.media.containers import MAX_XMP_SCAN, walk_jpeg
from p2pchat.media.exif_findings import analyse_exif, exif_from_bytes
from p2pchat.media.iptc import parse_iim, report_iim
from p2pchat.media.report import Finding
from p2pchat.media.xmp_findings import analyse_photoshop, analyse_xmp

#: What ``sniff_format`` names and ``read_container`` walks in full (a BMP has no metadata
#: blocks: its ICC profile is Pillow's, its trailer is past the size in its header).
WALKED = frozenset({"JPEG", "PNG", "GIF", "WEBP", "TIFF", "HEIF", "BMP"})

MAX_RESOURCES = 256
# Blocks and markers walked, at most: a real header has a few dozen; a crafted file of
# repeated tiny ones must not make the scan linear in a file of hundreds of MiB.
MAX_STEPS = 4096
MAX_SECTIONS = 4
MAX_TEXT_HEADER = 64 * 1024
MAX_COMMENTS = 16
_JP2_TIFF_UUIDS = (
    b"JpgTiffExif->JP2",  # EXIF in JPEG 2000 (ExifTool, Adobe)
    bytes.fromhex("b14bf8bd083d4b43a5ae8cd7d5a6ce03"),  # GeoJP2: a GeoTIFF directory
)
# Photo CD image pack info (ExifTool's PhotoCD.pm): name, offset, length.
_PHOTO_CD_TEXT = (
    ("vendor", 42, 20),
    ("product", 62, 16),
    ("serial", 90, 20),
    ("finisher", 165, 60),
)
_XMP_START = re.compile(rb"<\?xpacket begin|<x:xmpmeta|<x:xapmeta")
_XMP_END = re.compile(rb"</x:xmpmeta>|</x:xapmeta>|<\?xpacket end[^>]*>")
# Header lines end in LF, CR or CRLF (old Mac EPS files use CR alone).
_DSC = re.compile(
    rb"(?:^|[\r\n])%%(Creator|For|Title|CreationDate|Author|Copyright):?[ \t]*([^\r\n]*)"
)


def report_other_format(data: bytes, kind: str, image: Image.Image, out: FindingCollector) -> None:
    """Scan a file of a format without a walker; always say the list may be incomplete."""
    if kind in WALKED:
        return
    resources = photoshop_resources(data)
    if resources:
        _report_resources(resources, image, out)
    if 0x0424 not in resources:
        packet = xmp_packet(data)
        if packet:
            analyse_xmp(packet, out)
    for tiff in embedded_tiffs(data):
        _report_tiff(tiff, image, out)
    _report_text_header(data, out)
    for text in embedded_jpeg_comments(data):
        out.add(
            Finding(
                "comment",
                "medium",
                f"A comment in a JPEG stream inside the file: {text!r}.",
                {"comment": text, "short": "comment"},
            )
        )
    if data[2048:2055] == b"PCD_IPI":
        _report_photo_cd(data[2048:4096], out)
    fmt = str(image.format or kind)
    out.add(
        Finding(
            "partial",
            "low",
            f"p2pchat does not read {fmt} files block by block: it searched this one for "
            "XMP, EXIF, IPTC, Photoshop data and text comments only, so it may carry more "
            "than listed here.",
            {"format": fmt, "short": f"{fmt} read in part"},
        )
    )


def photoshop_resources(data: bytes) -> dict[int, bytes]:
    """Photoshop image resources (``8BIM`` id, Pascal name, length, data), bounds-checked."""
    resources: dict[int, bytes] = {}
    pos = data.find(b"8BIM")
    sections = steps = 0
    while pos >= 0 and sections < MAX_SECTIONS and len(resources) < MAX_RESOURCES:
        sections += 1
        while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM" and steps < MAX_STEPS:
            steps += 1
            (resource_id,) = struct.unpack(">H", data[pos + 4 : pos + 6])
            name_field = (data[pos + 6] + 2) & ~1  # length byte + name, padded to even
            size_at = pos + 6 + name_field
            if size_at + 4 > len(data):
                break
            (size,) = struct.unpack(">I", data[size_at : size_at + 4])
            body = size_at + 4
            if body + size > len(data):
                break
            resources.setdefault(resource_id, data[body : body + size])
            pos = body + size + (size & 1)
            if len(resources) >= MAX_RESOURCES:
                break
        pos = data.find(b"8BIM", pos + 1) if pos >= 0 else -1
    return resources


def xmp_packet(data: bytes) -> bytes | None:
    """The first XMP packet anywhere in the file (UTF-8), at most ``MAX_XMP_SCAN`` bytes."""
    start = _XMP_START.search(data)
    if start is None:
        return None
    window = data[start.start() : start.start() + MAX_XMP_SCAN]
    end = _XMP_END.search(window)
    return window[: end.end()] if end else window


def embedded_tiffs(data: bytes) -> list[bytes]:
    """EXIF/TIFF directories behind an ``Exif`` header or in a JPEG 2000 uuid box."""
    found: list[bytes] = []
    at = data.find(b"Exif\x00\x00")
    if at >= 0:
        found.append(data[at + 6 :])
    for uuid in _JP2_TIFF_UUIDS:
        at = data.find(uuid)
        if at >= 8 and data[at - 4 : at] == b"uuid":
            (box,) = struct.unpack(">I", data[at - 8 : at - 4])
            body = data[at + 16 : at - 8 + box] if box >= 24 else data[at + 16 :]
            found.append(body[6:] if body.startswith(b"Exif\x00\x00") else body)
    return [tiff for tiff in found if tiff[:4] in (b"II*\x00", b"MM\x00*")]


def _report_resources(
    resources: dict[int, bytes], image: Image.Image, out: FindingCollector
) -> None:
    analyse_photoshop(resources, out)
    iptc = resources.get(0x0404)
    if iptc:
        records = parse_iim(iptc)
        if records:
            report_iim(records, "in Photoshop data", out)
    exif = resources.get(0x0422) or resources.get(0x0423)
    if exif:
        _report_tiff(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif, image, out)
    xmp = resources.get(0x0424)
    if xmp:
        analyse_xmp(xmp, out)


def _report_tiff(tiff: bytes, image: Image.Image, out: FindingCollector) -> None:
    try:
        pair = exif_from_bytes(tiff)
        if pair is None or not len(pair[0]):
            return
        analyse_exif(pair[0], pair[1], image.size, out)
    except Exception:
        out.add(Finding("exif", "medium", "An EXIF block is present but malformed.", {}))
        return
    out.add(
        Finding(
            "exif",
            "low",
            "An EXIF block (embedded TIFF directory) of camera metadata.",
            {"short": "EXIF metadata"},
        )
    )


def _report_text_header(data: bytes, out: FindingCollector) -> None:
    """PostScript header lines, PNM ``#`` comments and JPEG 2000 COM markers."""
    comments: list[str] = []
    postscript = _postscript_section(data)
    if postscript:
        for key, value in _DSC.findall(postscript[:MAX_TEXT_HEADER]):
            text = as_label(value.strip(b" ()\r"), 120)
            if not text:
                continue
            name = key.decode()
            if name == "Creator":
                out.software.append(text)
            elif name == "CreationDate":
                out.times.setdefault("created (PostScript header)", text)
            elif name in ("For", "Author", "Copyright"):
                add_named(out.people, name.lower(), text, "PostScript")
            else:
                comments.append(f"{name}: {text}")
    elif data[:1] == b"P" and data[1:2] in b"1234567fF":
        comments = pnm_comments(data)
    else:
        comments = jpeg2000_comments(data)
    for text in comments[:MAX_COMMENTS]:
        out.add(
            Finding(
                "comment",
                "medium",
                f"A comment in the file header: {text!r}.",
                {"comment": text, "short": "comment"},
            )
        )


def _report_photo_cd(ipi: bytes, out: FindingCollector) -> None:
    """A Kodak Photo CD's image pack info: scan times, the scanner and its serial, the lab."""
    if len(ipi) < 225:
        return
    for label, at in (("scanned", 13), ("modified", 17)):
        (seconds,) = struct.unpack(">I", ipi[at : at + 4])
        if 0 < seconds < 0xFFFFFFFF:
            when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
            out.times.setdefault(label, when.strftime("%Y:%m:%d %H:%M:%S"))
    text = {
        name: " ".join(as_label(ipi[at : at + size]).split()) for name, at, size in _PHOTO_CD_TEXT
    }
    if text["vendor"] or text["product"]:
        out.device.setdefault("make", text["vendor"])
        out.device.setdefault("model", text["product"])
    if text["serial"]:
        out.serials.setdefault("scanner serial number", text["serial"])
    if text["finisher"]:
        message = f"The photo lab that made this Photo CD: {text['finisher']!r}."
        out.add(Finding("comment", "medium", message, {"comment": text["finisher"]}))


def _postscript_section(data: bytes) -> bytes:
    if data.startswith(b"%!PS"):
        return data
    if data.startswith(b"\xc5\xd0\xd3\xc6") and len(data) >= 12:  # DOS EPS binary header
        start, length = struct.unpack("<II", data[4:12])
        return data[start : start + length]
    return b""


def pnm_comments(data: bytes) -> list[str]:
    """The ``#`` comments of a PBM/PGM/PPM/PAM/PFM header (never the pixel data)."""
    comments: list[str] = []
    numbers_wanted = 2 if data[1:2] in b"14" else 3
    pos, numbers = 2, 0
    limit = min(len(data), MAX_TEXT_HEADER)
    while pos < limit and (numbers < numbers_wanted or data[1:2] == b"7"):
        byte = data[pos : pos + 1]
        if byte == b"#":
            end = data.find(b"\n", pos, limit)
            end = limit if end < 0 else end
            text = as_label(data[pos + 1 : end].strip(), 120)
            if text:
                comments.append(text)
            pos = end + 1
        elif byte.isspace():
            pos += 1
        else:
            end = pos
            while end < limit and not data[end : end + 1].isspace():
                end += 1
            token = data[pos:end]
            if token == b"ENDHDR":
                break
            numbers += token.isdigit()
            pos = end
    return comments


def embedded_jpeg_comments(data: bytes) -> list[str]:
    """COM segments of the first JPEG stream inside the file (BLP, ICO, ICNS keep JPEGs)."""
    at = data.find(b"\xff\xd8\xff")
    if at < 0:
        return []
    container = walk_jpeg(data[at:])
    texts = [as_label(payload, 120) for kind, payload in container.segments if kind == "COM"]
    return [text for text in texts if text][:MAX_COMMENTS]


def jpeg2000_comments(data: bytes) -> list[str]:
    """COM marker texts of a JPEG 2000 codestream's main header (SOC SIZ ... SOT)."""
    start = data.find(b"\xff\x4f\xff\x51")
    if start < 0:
        return []
    comments: list[str] = []
    pos = start + 2
    for _step in range(MAX_STEPS):
        if pos + 4 > len(data) or len(comments) >= MAX_COMMENTS:
            break
        marker, length = struct.unpack(">HH", data[pos : pos + 4])
        if marker in (0xFF90, 0xFF93, 0xFFD9) or length < 2 or marker >> 8 != 0xFF:
            break
        if marker == 0xFF64 and length >= 4:
            text = as_label(data[pos + 6 : pos + 2 + length], 120)
            if text:
                comments.append(text)
        pos += 2 + length
    return comments
