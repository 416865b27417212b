"""IPTC-IIM records, wherever they hide: APP13, TIFF tags, PNG text, GIF blocks, trailers.

Owns a bounds-checked parser for the IIM byte format (``0x1C`` record dataset length
value) and the finding that names what a record says: by-line (a person), city,
state, country, sub-location (a place), caption, keywords, dates. Pillow reads the
IPTC of JPEG and TIFF; this parser reads the copies Pillow never looks at, such as
the AFCP trailer some Windows tools append after a JPEG's end.
"""

from __future__ import annotations

import struct

from PIL import Image

from p2pchat.media.collector import FindingCollector, add_named, as_label
from p2pchat.media.report import Finding

MAX_DATASETS = 2048
_FIELDS = {
    (2, 80): "by-line",
    (2, 85): "by-line title",
    (2, 122): "caption writer",
    (2, 90): "city",
    (2, 101): "country",
    (2, 95): "state",
    (2, 92): "sub-location",
    (2, 116): "copyright",
    (2, 110): "credit",
    (2, 120): "caption",
    (2, 105): "headline",
    (2, 5): "object name",
    (2, 55): "date created",
    (2, 65): "program",
    (2, 25): "keywords",
}
_PLACES = ("city", "country", "state", "sub-location")
_PEOPLE = ("by-line", "caption writer")

IimRecords = dict[tuple[int, int], list[bytes]]


def parse_iim(data: bytes) -> IimRecords:
    """The datasets of the first IIM stream in ``data`` (it may start anywhere in it)."""
    records: IimRecords = {}
    pos = data.find(b"\x1c\x02")
    first_one = data.find(b"\x1c\x01")
    if 0 <= first_one < pos or pos < 0:
        pos = first_one
    count = 0
    while pos >= 0 and pos + 5 <= len(data) and data[pos] == 0x1C and count < MAX_DATASETS:
        record, dataset = data[pos + 1], data[pos + 2]
        (size,) = struct.unpack(">H", data[pos + 3 : pos + 5])
        header = 5
        if size & 0x8000:  # extended length: the next (size & 0x7FFF) bytes hold it
            width = size & 0x7FFF
            if width > 4 or pos + 5 + width > len(data):
                break
            size = int.from_bytes(data[pos + 5 : pos + 5 + width], "big")
            header += width
        if pos + header + size > len(data):
            break
        records.setdefault((record, dataset), []).append(data[pos + header : pos + header + size])
        pos += header + size
        count += 1
    return records


def report_iim(records: IimRecords, where: str, out: FindingCollector) -> None:
    found: dict[str, str] = {}
    for key, label in _FIELDS.items():
        values = [as_label(value) for value in records.get(key, []) if value.strip()]
        if values:
            found[label] = as_label(", ".join(values))
    for label in _PLACES:
        if label in found:
            add_named(out.places, label, found[label], "IPTC")
    for label in _PEOPLE:
        if label in found:
            add_named(out.people, label, found[label], "IPTC")
    listed = ", ".join(f"{k} {v}" for k, v in found.items())
    out.add(
        Finding(
            "iptc",
            "medium",
            f"An IPTC record{' ' + where if where else ''} (news-agency captions, names, "
            f"places){': ' + listed if listed else ''}.",
            {**found, "where": where, "short": "IPTC record"},
        )
    )


def analyse_iptc(image: Image.Image, out: FindingCollector) -> None:
    """The IPTC record Pillow found in a JPEG's APP13 or a TIFF's tag 33723."""
    from PIL import IptcImagePlugin

    try:
        iptc = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]
    except Exception:
        return
    if not iptc:
        return
    records: IimRecords = {}
    for key, value in iptc.items():
        values = value if isinstance(value, list) else [value]
        records[key] = [item for item in values if isinstance(item, bytes)]
    report_iim(records, "", out)
