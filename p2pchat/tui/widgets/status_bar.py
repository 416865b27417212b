"""The status line of the chat screen: connection, encryption, timer and round-trip time.

Pure display: the app sets the reactive attributes, the bar renders them.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from p2pchat.i18n import t


def timer_word(seconds: int) -> str:
    """30s, 5m, 1h, 1d: the words ``/timer`` takes ("" for off)."""
    if seconds <= 0:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class StatusBar(Static):
    """One line: "● connected (direct) · 🔒 paired · rtt 12 ms"."""

    connection: reactive[str] = reactive("pairing")
    connection_kind: reactive[str] = reactive("unknown")
    verified: reactive[bool] = reactive(False)
    paired: reactive[bool] = reactive(False)
    rtt: reactive[float | None] = reactive(None)
    timer: reactive[int] = reactive(0)  # disappearing messages, seconds (0: off)

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = [
            (self._connection_text(), self._connection_style()),
            "  ·  ",
            (self._encryption_text(), "bold $success" if self.verified else ""),
            "  ·  ",
        ]
        if self.timer:
            parts += [
                (t("timer.status", duration=timer_word(self.timer)), "bold $warning"),
                "  ·  ",
            ]
        parts.append(self._rtt_text())
        return Content.assemble(*parts)

    def _connection_text(self) -> str:
        if self.connection == "connected":
            kind = {
                "direct": "status.direct",
                "relay": "status.relayed",
                "transit": "status.transit",
                "lan": "status.lan",
            }.get(self.connection_kind, "status.unknown_path")
            return t("status.connected", path=t(kind))
        return t(f"status.{self.connection}")

    def _connection_style(self) -> str:
        if self.connection == "connected":
            return "$success"
        if self.connection in ("lost", "closed"):
            return "bold $error"
        return "$warning"

    def _encryption_text(self) -> str:
        if self.verified:
            return t("status.verified")
        if self.paired:
            return t("status.paired")
        return t("status.not_paired")

    def _rtt_text(self) -> str:
        if self.rtt is None:
            return t("status.rtt_unknown")
        return t("status.rtt", ms=round(self.rtt * 1000))
