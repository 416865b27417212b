"""The privacy report: ``Finding``, ``PrivacyReport`` and their plain-words summary.

Both ``inspect_image`` (what an image carries) and the sanitiser (what was removed)
hand back a ``PrivacyReport``. This module owns its shape, its JSON round trip and
the order in which findings are told to a person: what identifies a place, a device
or a person first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from p2pchat.i18n import t
from p2pchat.media.report_words import localized_short

Severity = Literal["high", "medium", "low"]

_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
# The summary leads with what identifies a place, then a person, then one device.
_SUMMARY_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "gps",
            "place",
            "person",
            "faces",
            "face_visible",
            "document_visible",
            "number_visible",
            "serial",
            "device",
            "trailer",
            "text_visible",
            "transparent",
            "provenance",
            "unknown",
            "vendor",
            "preview",
            "thumbnail",
            "frames",
            "time",
            "session",
            "history",
            "comment",
            "text",
            "iptc",
            "photoshop",
            "software",
            "makernote",
            "icc",
            "exif",
            "xmp",
            "malformed",
            "blurred",
        )
    )
}


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
            return t("report.no_metadata")
        ordered = sorted(self.findings, key=importance)
        return "; ".join(_short(finding) for finding in ordered)

    def to_dict(self, *, summary: bool = True) -> dict[str, Any]:
        """As JSON; ``summary=False`` leaves out the worded line (``from_dict`` ignores it)."""
        data: dict[str, Any] = {"format": self.format, "width": self.width, "height": self.height}
        if summary:
            data["summary"] = self.summary()
        data["findings"] = [asdict(finding) for finding in self.findings]
        data["notes"] = list(self.notes)
        return data

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


def importance(finding: Finding) -> tuple[int, int]:
    """Sort key: a place, a person's name, a device serial first; then severity."""
    return (
        _SUMMARY_ORDER.get(finding.category, len(_SUMMARY_ORDER)),
        _SEVERITY_ORDER.get(finding.severity, 3),
    )


def _short(finding: Finding) -> str:
    key = finding.detail.get("i18n")
    if isinstance(key, str) and key.startswith("report."):
        args = finding.detail.get("i18n_args")
        # In the reader's language, not the worker's; counts fill the template.
        return t(key, **(args if isinstance(args, dict) else {}))
    localized = localized_short(finding.category, finding.detail)
    if localized is not None:
        return localized
    short = finding.detail.get("short")
    return str(short) if short else finding.message.rstrip(".")
