"""The accumulator every metadata reader writes into, and the wording they share.

EXIF, XMP and IPTC often say the same thing twice (the camera, its serial number, a
date): readers record such facts on a ``FindingCollector``, which turns each kind into
one finding at the end. ``as_label`` makes any metadata value safe to show;
``gps_finding`` words a position the same way whichever block it came from.
"""

from __future__ import annotations

from typing import Any

from p2pchat.media.report import Finding


def as_label(value: Any, limit: int = 120) -> str:
    """A metadata value as a printable label (no control characters, bounded)."""
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0].decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " for ch in str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_coordinates(lat: float, lon: float) -> str:
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.4f} {ns} {abs(lon):.4f} {ew}"


def gps_finding(lat: float, lon: float, source: str, extra: dict[str, Any]) -> Finding:
    coords = format_coordinates(lat, lon)
    short_coords = (
        f"{abs(lat):.2f} {'N' if lat >= 0 else 'S'} {abs(lon):.2f} {'E' if lon >= 0 else 'W'}"
    )
    return Finding(
        "gps",
        "high",
        f"GPS location {coords} ({source}): shows where the photo was taken.",
        {
            "latitude": round(lat, 6),
            "longitude": round(lon, 6),
            "source": source,
            "short": f"GPS location {short_coords}",
            **extra,
        },
    )


def add_named(table: dict[str, str], label: str, value: str, source: str = "") -> None:
    """Record a name or place; a second, different value under one label keeps its source."""
    if not value or value in table.values():
        return
    if label in table and source:
        label = f"{label} ({source})"
    table.setdefault(label, value)


class FindingCollector:
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
        self.named_blocks = 0  # unknown or vendor blocks named one by one
        self.more_blocks: list[int] = []  # the sizes of those past the limit

    def add(self, finding: Finding) -> None:
        key = (finding.category, finding.message)
        if key not in self.seen:
            self.seen.add(key)
            self.findings.append(finding)

    def finish(self) -> None:
        if self.more_blocks:
            total = sum(self.more_blocks)
            self.add(
                Finding(
                    "unknown",
                    "medium",
                    f"{len(self.more_blocks)} more unknown or vendor blocks ({total} bytes "
                    "in all): data viewers do not show.",
                    {"blocks": len(self.more_blocks), "bytes": total, "short": "more blocks"},
                )
            )
        if self.device:
            make = self.device.get("make", "")
            model = self.device.get("model", "")
            name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
            name = name.strip()
            extras = {k: v for k, v in self.device.items() if k not in ("make", "model")}
            more = "".join(f", {k} {v}" for k, v in extras.items())
            self.add(
                Finding(
                    "device",
                    "medium",
                    f"Made with {name or 'a known device'}{more}: names your camera or phone.",
                    {**self.device, "short": f"camera {name}"},
                )
            )
        if self.serials:
            listed = ", ".join(f"{k} {v}" for k, v in self.serials.items())
            self.add(
                Finding(
                    "serial",
                    "high",
                    f"Serial numbers: {listed}. They tie every photo to this one device.",
                    {**self.serials, "short": f"serial {listed}"},
                )
            )
        if self.times:
            listed = ", ".join(f"{k} {v}" for k, v in self.times.items())
            self.add(
                Finding(
                    "time",
                    "medium",
                    f"Timestamps: {listed}.",
                    {**self.times, "short": f"time {next(iter(self.times.values()))}"},
                )
            )
        if self.software:
            listed = ", ".join(dict.fromkeys(self.software))
            self.add(
                Finding(
                    "software",
                    "low",
                    f"Software used: {listed}.",
                    {"software": list(dict.fromkeys(self.software)), "short": f"software {listed}"},
                )
            )
        if self.people:
            listed = ", ".join(f"{k} {v}" for k, v in self.people.items())
            self.add(
                Finding(
                    "person",
                    "high",
                    f"Names a person: {listed}.",
                    {**self.people, "short": f"names {listed}"},
                )
            )
        if self.places:
            listed = ", ".join(f"{k} {v}" for k, v in self.places.items())
            self.add(
                Finding(
                    "place",
                    "high",
                    f"Names a place: {listed}.",
                    {**self.places, "short": f"place {listed}"},
                )
            )
