"""Embedded preview images in TIFF-based files: DNG, NEF, CR2, IIQ, ARW, ORF, plain TIFF.

Owns a bounds-checked walk of the TIFF directory tree (the IFD chain, SubIFDs and the
JPEG blocks they point to) that lists every picture a raw file carries besides its
largest: a camera's full-size JPEG preview shows the scene even where the raw data is
unreadable, and an editor that crops the raw usually leaves the previews uncropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from p2pchat.media.collector import FindingCollector
from p2pchat.media.report import Finding

MAX_IFDS = 64
MAX_ENTRIES = 1024
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_COMPRESSION = {1: "uncompressed", 6: "JPEG", 7: "JPEG", 8: "Deflate", 34892: "lossy JPEG"}


@dataclass(frozen=True)
class Picture:
    where: str
    width: int
    height: int
    reduced: bool
    compression: str
    length: int


def _values(data: bytes, endian: str, kind: int, count: int, field: bytes) -> list[int]:
    size = _TYPE_SIZE.get(kind, 0)
    if kind not in (3, 4, 13) or count <= 0 or count > 4096:
        return []
    if size * count <= 4:
        raw = field[: size * count]
    else:
        (offset,) = struct.unpack(endian + "I", field)
        raw = data[offset : offset + size * count]
        if len(raw) < size * count:
            return []
    code = "H" if kind == 3 else "I"
    return list(struct.unpack(f"{endian}{count}{code}", raw))


def _ifd(data: bytes, endian: str, offset: int) -> tuple[dict[int, list[int]], int]:
    if offset < 8 or offset + 2 > len(data):
        return {}, 0
    (count,) = struct.unpack(endian + "H", data[offset : offset + 2])
    if count > MAX_ENTRIES or offset + 2 + 12 * count + 4 > len(data):
        return {}, 0
    tags: dict[int, list[int]] = {}
    for index in range(count):
        entry = data[offset + 2 + 12 * index : offset + 14 + 12 * index]
        tag, kind, number = struct.unpack(endian + "HHI", entry[:8])
        values = _values(data, endian, kind, number, entry[8:12])
        if values:
            tags[tag] = values
    (following,) = struct.unpack(
        endian + "I", data[offset + 2 + 12 * count : offset + 6 + 12 * count]
    )
    return tags, following


def tiff_pictures(data: bytes) -> list[Picture]:
    """Every image the TIFF directory tree declares, in walk order."""
    if data[:4] not in (b"II*\x00", b"MM\x00*") or len(data) < 8:
        return []
    endian = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack(endian + "I", data[4:8])
    pictures: list[Picture] = []
    queue: list[tuple[str, int]] = [("IFD0", first)]
    seen: set[int] = set()
    chain = 0
    while queue and len(seen) < MAX_IFDS:
        where, offset = queue.pop(0)
        if offset in seen or offset == 0:
            continue
        seen.add(offset)
        tags, following = _ifd(data, endian, offset)
        if not tags:
            continue
        if following and where.startswith("IFD"):
            chain += 1
            queue.append((f"IFD{chain}", following))
        for number, sub in enumerate(tags.get(0x014A, [])):
            queue.append(
                (f"SubIFD{number or ''}" if where == "IFD0" else f"{where}.Sub{number}", sub)
            )
        width, height = tags.get(0x0100, [0])[0], tags.get(0x0101, [0])[0]
        reduced = bool(tags.get(0x00FE, [0])[0] & 1)
        compression = _COMPRESSION.get(tags.get(0x0103, [1])[0], "compressed")
        jpeg_length = tags.get(0x0202, [0])[0]
        if width and height:
            length = sum(tags.get(0x0117, tags.get(0x0145, [])))
            pictures.append(Picture(where, width, height, reduced, compression, length))
        if jpeg_length and 0x0201 in tags:
            pictures.append(Picture(where, 0, 0, True, "JPEG", jpeg_length))
    return pictures


def report_previews(data: bytes, out: FindingCollector) -> None:
    """List the pictures besides the main (largest) one; a raw file's previews first."""
    pictures = tiff_pictures(data)
    if len(pictures) < 2:
        return
    main = max(pictures, key=lambda picture: (not picture.reduced, picture.width * picture.height))
    previews = [picture for picture in pictures if picture is not main]
    listed = ", ".join(
        (f"{p.width}x{p.height} " if p.width else "")
        + f"{p.compression} in {p.where}"
        + (f" ({p.length} bytes)" if p.length else "")
        for p in previews[:8]
    )
    largest = max(previews, key=lambda picture: picture.width * picture.height)
    out.add(
        Finding(
            "preview",
            "medium",
            f"{len(previews)} embedded preview image{'s' if len(previews) > 1 else ''} besides "
            f"the {main.width}x{main.height} main image: {listed}. A preview shows the scene "
            "even when the main image is not, and often uncropped.",
            {
                "previews": [
                    {"where": p.where, "width": p.width, "height": p.height, "bytes": p.length}
                    for p in previews[:32]
                ],
                "short": f"{len(previews)} embedded previews"
                + (f" (up to {largest.width}x{largest.height})" if largest.width else ""),
            },
        )
    )
