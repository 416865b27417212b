"""The status line of the chat screen: connection, encryption and round-trip time.

Pure display: the app sets the reactive attributes, the bar renders them.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from p2pchat.i18n import t


class StatusBar(Static):
    """One line: "● connected (direct) · 🔒 paired · rtt 12 ms"."""

    connection: reactive[str] = reactive("pairing")
    connection_kind: reactive[str] = reactive("unknown")
    verified: reactive[bool] = reactive(False)
    paired: reactive[bool] = reactive(False)
    rtt: reactive[float | None] = reactive(None)

    def render(self) -> Content:
        return Content.assemble(
            (self._connection_text(), self._connection_style()),
            "  ·  ",
            (self._encryption_text(), "bold $success" if self.verified else ""),
            "  ·  ",
            self._rtt_text(),
        )

    def _connection_text(self) -> str:
        if self.connection == "connected":
            kind = {"direct": "status.direct", "relay": "status.relayed"}.get(
                self.connection_kind, "status.unknown_path"
            )
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
