"""The key-change warning: a pinned contact presented another identity key.

Shown instead of the chat: nothing the peer sent is ever displayed. The screen
says it loudly (the SSH-style text from ``store.contacts`` and both
fingerprints) and offers one deliberate way on: after ticking that they checked
with the person through another channel, re-pair with a *new code* and accept
the new key. It dismisses with a ``RePair`` (the app then pairs with
``ContactGuard(replace_key=True)``) or None; nothing is ever accepted by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Static

from p2pchat.core import codes
from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import InvalidCode
from p2pchat.i18n import t
from p2pchat.service.contacts import KeyChanged
from p2pchat.tui.error_text import describe_error


@dataclass(frozen=True)
class RePair:
    """The user's deliberate choice: pair ``petname`` again with a new code, new key accepted."""

    petname: str
    mode: Literal["invite", "join"]
    code: str = ""


class KeyChangedScreen(Screen[RePair | None]):
    """A full-screen warning; Esc goes back home with nothing changed."""

    BINDINGS = [Binding("escape", "back", t("keychange.back"), id="keychange.back")]

    def __init__(self, error: KeyChanged) -> None:
        super().__init__(id="key-changed")
        self.error = error
        self.petname = error.petname

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="keychange-box"):
            yield Static(Content(t("keychange.title", name=self.petname)), id="keychange-title")
            yield Static(Content(str(self.error)), id="keychange-text")
            yield Static(
                Content(
                    t(
                        "keychange.fingerprints",
                        pinned=fingerprint(self.error.pinned_key),
                        offered=fingerprint(self.error.offered_key),
                    )
                ),
                id="keychange-fingerprints",
            )
            yield Static(t("keychange.explain"), id="keychange-explain")
            yield Button(t("keychange.back"), id="keychange-back", variant="primary")
            with Vertical(id="keychange-repair"):
                yield Checkbox(
                    Content(t("keychange.confirm_checked", name=self.petname)),
                    False,
                    id="keychange-checked",
                )
                with Horizontal(id="keychange-actions"):
                    yield Button(
                        t("keychange.repair_invite"),
                        id="repair-invite",
                        variant="error",
                        disabled=True,
                    )
                    yield Input(
                        placeholder=t("home.join_placeholder", example=codes.EXAMPLE_CODE),
                        id="repair-code",
                        disabled=True,
                    )
                    yield Button(
                        t("keychange.repair_join"),
                        id="repair-join",
                        variant="error",
                        disabled=True,
                    )
                yield Static("", id="repair-error")
        yield Footer()

    def on_mount(self) -> None:
        # The safe way out has the focus: Enter right after the warning changes nothing.
        self.query_one("#keychange-back", Button).focus()

    @on(Checkbox.Changed, "#keychange-checked")
    def _checked(self, event: Checkbox.Changed) -> None:
        for selector in ("#repair-invite", "#repair-code", "#repair-join"):
            self.query_one(selector).disabled = not event.value

    @on(Button.Pressed, "#keychange-back")
    def action_back(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#repair-invite")
    def _repair_invite(self) -> None:
        if self.query_one("#keychange-checked", Checkbox).value:
            self.dismiss(RePair(self.petname, "invite"))

    @on(Button.Pressed, "#repair-join")
    @on(Input.Submitted, "#repair-code")
    def _repair_join(self) -> None:
        if not self.query_one("#keychange-checked", Checkbox).value:
            return
        text = self.query_one("#repair-code", Input).value
        try:
            code = codes.parse(text)
        except InvalidCode as error:
            self.query_one("#repair-error", Static).update(Content(describe_error(error)))
            return
        self.dismiss(RePair(self.petname, "join", str(code)))
