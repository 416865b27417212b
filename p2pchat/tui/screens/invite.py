"""The invite screen: the code, large, to read aloud, with a validity countdown.

The app owns the pairing worker; this screen only shows the code it is given
and posts ``Cancelled`` when the user gives up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, LoadingIndicator, Static

from p2pchat.i18n import t


def format_remaining(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class InviteScreen(Screen[None]):
    """Shows the invite code while the app waits for the other person."""

    BINDINGS = [
        Binding("c", "copy_code", t("keys.copy_code"), id="invite.copy"),
        Binding("escape", "cancel", t("keys.cancel"), id="invite.cancel"),
    ]

    code: reactive[str] = reactive("")
    expires_at: reactive[float | None] = reactive(None)

    @dataclass
    class Cancelled(Message):
        """The user gave up waiting."""

    def __init__(self) -> None:
        super().__init__(id="invite")

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="invite-box"):
            yield Static(t("invite.title"), id="invite-title")
            yield Static(t("invite.allocating"), id="invite-code")
            yield Static(t("invite.copy_hint"), id="invite-hint")
            yield Static("", id="invite-countdown")
            yield Static(t("invite.waiting"), id="invite-waiting")
            yield LoadingIndicator()
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def show_code(self, code: str, expires_in: float | None) -> None:
        self.code = code
        if expires_in is not None:
            self.expires_at = time.monotonic() + expires_in

    def watch_code(self, code: str) -> None:
        if code:
            self.query_one("#invite-code", Static).update(Content(code))

    def watch_expires_at(self) -> None:
        self._tick()

    def _tick(self) -> None:
        if self.expires_at is None:
            return
        remaining = self.expires_at - time.monotonic()
        text = (
            t("invite.expires_in", time=format_remaining(remaining))
            if remaining > 0
            else t("invite.expired")
        )
        self.query_one("#invite-countdown", Static).update(text)

    def action_copy_code(self) -> None:
        if self.code:
            # OSC 52: the terminal copies it; nothing is written to disk or logged.
            self.app.copy_to_clipboard(self.code)
            self.notify(t("invite.copied"))

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())
