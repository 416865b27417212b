"""JUMBF boxes and the C2PA / Content Credentials manifests they carry.

Owns reading a JUMBF superbox tree (JPEG APP11 "JP" segments, a PNG ``caBX`` chunk, a
WebP ``C2PA`` chunk) without trusting one length in it: box labels are listed, JSON
and CBOR content boxes are decoded under size and depth limits, and what they name
(an author, a place, a device, a tool, a time) is recorded on the collector. A C2PA
manifest is meant to travel with a photo: it can name who made it and where.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

from p2pchat.media.collector import FindingCollector, add_named, as_label
from p2pchat.media.report import Finding

MAX_BOXES = 512
MAX_DEPTH = 16
MAX_CONTENT = 256 * 1024
MAX_LABELS = 12

_PERSON_KEYS = {
    "author": "author",
    "creator": "creator",
    "copyright": "copyright",
    "artist": "artist",
    "credit": "credit",
    "owner": "owner",
    "rights": "rights",
}
_PLACE_KEYS = {
    "location": "location",
    "city": "city",
    "country": "country",
    "state": "state",
    "address": "address",
    "sublocation": "sub-location",
}
_TOOL_KEYS = {"claim_generator", "softwareagent", "generator"}


def jpeg_jumbf(segments: list[tuple[str, bytes]]) -> list[bytes]:
    """Reassemble the APP11 "JP" segments: one JUMBF box per instance, parts in order."""
    parts: dict[bytes, list[tuple[int, bytes]]] = {}
    for kind, payload in segments:
        if kind == "APP11" and payload.startswith(b"JP") and len(payload) > 16:
            instance, (sequence,) = payload[2:4], struct.unpack(">I", payload[4:8])
            parts.setdefault(instance, []).append((sequence, payload[8:]))
    boxes = []
    for pieces in parts.values():
        pieces.sort(key=lambda item: item[0])
        # Every part after the first repeats the superbox's LBox and TBox.
        boxes.append(pieces[0][1] + b"".join(body[8:] for _seq, body in pieces[1:]))
    return boxes


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, payload end) of the boxes in data[start:end], bounds-checked."""
    pos = start
    while pos + 8 <= end:
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.labels: list[str] = []
        self.contents: list[Any] = []
        self.count = 0

    def superbox(self, start: int, end: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        content_type = ""
        for kind, begin, stop in _boxes(self.data, start, end):
            self.count += 1
            if self.count > MAX_BOXES:
                return
            if kind == "jumd" and stop - begin >= 17:
                content_type = self.data[begin : begin + 4].decode("latin-1")
                toggles = self.data[begin + 16]
                if toggles & 0x02:
                    label = self.data[begin + 17 : stop].split(b"\x00", 1)[0]
                    self.labels.append(as_label(label, 80))
            elif kind == "jumb":
                self.superbox(begin, stop, depth + 1)
            elif kind in ("json", "cbor") or content_type in ("json", "cbor"):
                self.content(kind, self.data[begin:stop])

    def content(self, kind: str, body: bytes) -> None:
        if len(body) > MAX_CONTENT:
            return
        try:
            if kind == "json":
                self.contents.append(json.loads(body.decode("utf-8", "replace")))
            elif kind == "cbor":
                self.contents.append(_Cbor(body).item(0))
        except (ValueError, IndexError, struct.error, RecursionError):
            return


class _Cbor:
    """A minimal CBOR reader: maps, arrays, strings, numbers, tags; limits on everything."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.items = data, 0, 0

    def _length(self, info: int) -> int:
        if info < 24:
            return info
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if size is None:
            raise ValueError("indefinite or reserved length")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def item(self, depth: int) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > 10_000 or self.pos >= len(self.data):
            raise ValueError("too deep, too many items or truncated")
        head = self.data[self.pos]
        self.pos += 1
        major, info = head >> 5, head & 0x1F
        if major == 7:
            self.pos += {25: 2, 26: 4, 27: 8}.get(info, 0)
            return None
        value = self._length(info)
        if major in (0, 1):
            return value if major == 0 else -1 - value
        if major in (2, 3):
            if value > len(self.data) - self.pos:
                raise ValueError("string past the end")
            raw = self.data[self.pos : self.pos + value]
            self.pos += value
            return raw.decode("utf-8", "replace") if major == 3 else b""
        if major == 4:
            return [self.item(depth + 1) for _ in range(min(value, 10_000))]
        if major == 5:
            pairs = {}
            for _ in range(min(value, 10_000)):
                key = self.item(depth + 1)
                pairs[str(key)] = self.item(depth + 1)
            return pairs
        return self.item(depth + 1)  # major 6: a tag, then its item


def _walk(value: Any, key: str, out: FindingCollector, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for child_key, child in list(value.items())[:256]:
            _walk(child, str(child_key), out, depth + 1)
        name = key.lower().rsplit(":", 1)[-1]
        if name in _PERSON_KEYS and isinstance(value.get("name"), str):
            add_named(out.people, _PERSON_KEYS[name], as_label(value["name"]), "C2PA")
        return
    if isinstance(value, list):
        for child in value[:64]:
            _walk(child, key, out, depth + 1)
        return
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return
    text = as_label(value)
    name = key.lower().rsplit(":", 1)[-1]  # "exif:GPSLatitude", "dc:creator"
    if not text:
        return
    if name in _PERSON_KEYS:
        add_named(out.people, _PERSON_KEYS[name], text, "C2PA")
    elif name in _PLACE_KEYS:
        add_named(out.places, _PLACE_KEYS[name], text, "C2PA")
    elif name in ("gpslatitude", "gpslongitude", "latitude", "longitude"):
        add_named(out.places, name.replace("gps", ""), text, "C2PA")
    elif name in _TOOL_KEYS:
        out.software.append(text)
    elif name in ("make", "model"):
        out.device.setdefault(name, text)
    elif name in ("serialnumber", "bodyserialnumber"):
        out.serials.setdefault("serial number (C2PA)", text)


def analyse_jumbf(box: bytes, where: str, out: FindingCollector) -> None:
    """Name a JUMBF box (C2PA manifests or other) and record what its content says."""
    reader = _Reader(box)
    reader.superbox(0, len(box), 0)
    for content in reader.contents:
        _walk(content, "", out)
    labels = list(dict.fromkeys(reader.labels))
    is_c2pa = any(
        label in ("c2pa", "cai") or label.startswith(("c2pa.", "cai.")) for label in labels
    )
    what = "A C2PA Content Credentials manifest" if is_c2pa else "A JUMBF metadata box"
    shown = ", ".join(labels[:MAX_LABELS]) + (" …" if len(labels) > MAX_LABELS else "")
    out.add(
        Finding(
            "provenance",
            "medium",
            f"{what} in {where} ({len(box)} bytes"
            + (f"; labels: {shown}" if shown else "")
            + "): a record of who made and edited the photo, often with names and places.",
            {
                "where": where,
                "bytes": len(box),
                "labels": labels[:64],
                "short": "C2PA manifest" if is_c2pa else "JUMBF box",
            },
        )
    )
