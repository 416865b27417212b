"""The waiting screen of a reconnect: meeting a pinned contact again, without a code.

Both people choose each other in their contact lists; the service waits at the
meeting point their shared reconnect key names. The app owns the worker; this
screen only shows who is awaited and posts ``Cancelled`` when the user gives up.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, LoadingIndicator, Static

from p2pchat.i18n import t


class ReconnectScreen(Screen[None]):
    """Waiting for a contact at the meeting point."""

    BINDINGS = [Binding("escape", "cancel", t("keys.cancel"), id="reconnect.cancel")]

    @dataclass
    class Cancelled(Message):
        """The user stopped waiting."""

    def __init__(self, petname: str) -> None:
        super().__init__(id="reconnect")
        self.petname = petname

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="reconnect-box"):
            yield Static(Content(t("reconnect.title", name=self.petname)), id="reconnect-title")
            yield Static(Content(t("reconnect.waiting", name=self.petname)), id="reconnect-text")
            yield LoadingIndicator()
            yield Button(t("reconnect.cancel"), id="reconnect-cancel")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())
