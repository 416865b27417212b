"""The home screen: who I am (fingerprint), make a new invite, or join with a code.

The code field completes PGP words as you type (``core.codes.completions``) and
checks the code with ``core.codes.parse`` before anything touches the network;
problems are shown inline under the field. Network work is the app's: this
screen only posts ``InviteRequested`` / ``JoinRequested`` up.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Button, Footer, Input, Label, Static

from p2pchat.core import codes
from p2pchat.core.errors import InvalidCode
from p2pchat.i18n import t


class CodeSuggester(Suggester):
    """Suggests the first full-code completion of what was typed (Right arrow accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=True, case_sensitive=False)

    async def get_suggestion(self, value: str) -> str | None:
        candidates = codes.completions(value)
        # Input only shows a suggestion that extends the typed text, so keep the user's
        # own separators for the part already typed and add the rest.
        for candidate in candidates:
            if len(candidate) > len(value):
                return value + candidate[len(value) :]
        return None


class HomeScreen(Screen[None]):
    """Start page of the app."""

    BINDINGS = [
        Binding("ctrl+n", "new_invite", t("keys.new_invite"), id="home.new_invite"),
        Binding("ctrl+j", "focus_join", t("keys.join"), id="home.join", show=False),
        Binding("f1", "app.help", t("keys.help"), id="home.help"),
    ]

    busy: reactive[bool] = reactive(False)

    @dataclass
    class InviteRequested(Message):
        """The user wants a new invite code."""

    @dataclass
    class JoinRequested(Message):
        """The user typed a well-formed code (canonical form)."""

        code: str

    def __init__(
        self, fingerprint: str, *, initial_code: str = "", focus_code: bool = False
    ) -> None:
        super().__init__(id="home")
        self.fingerprint = fingerprint
        self.initial_code = initial_code
        # `p2pchat join` without $P2PCHAT_CODE: the user came to type a code, so take it.
        self.focus_code = focus_code or bool(initial_code)

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="home-box"):
            yield Static(t("app.title"), id="home-title")
            yield Static(t("home.tagline"), id="home-tagline")
            yield Label(t("home.fingerprint_label"), classes="field-label")
            yield Static(Content(self.fingerprint), id="fingerprint")
            yield Button(t("home.new_invite"), id="new-invite", variant="primary")
            yield Label(t("home.join_label"), classes="field-label")
            with Horizontal(id="join-row"):
                yield Input(
                    value=self.initial_code,
                    placeholder=t("home.join_placeholder", example=codes.EXAMPLE_CODE),
                    suggester=CodeSuggester(),
                    id="join-code",
                )
                yield Button(t("home.join"), id="join", variant="success")
            yield Static("", id="join-error")
            yield Static("", id="home-status")
        yield Footer()

    def on_mount(self) -> None:
        if self.focus_code:
            self.query_one("#join-code", Input).focus()

    def show_error(self, text: str) -> None:
        """Show a problem inline (an invalid code, a failed pairing); empty text clears it."""
        error = self.query_one("#join-error", Static)
        error.update(Content(text))
        error.set_class(bool(text), "-visible")

    def watch_busy(self, busy: bool) -> None:
        for button in self.query(Button):
            button.disabled = busy
        self.query_one("#home-status", Static).update(t("home.connecting") if busy else "")

    def action_new_invite(self) -> None:
        if not self.busy:
            self.show_error("")
            self.post_message(self.InviteRequested())

    def action_focus_join(self) -> None:
        self.query_one("#join-code", Input).focus()

    @on(Button.Pressed, "#new-invite")
    def _new_invite(self) -> None:
        self.action_new_invite()

    @on(Button.Pressed, "#join")
    @on(Input.Submitted, "#join-code")
    def _join(self) -> None:
        if self.busy:
            return
        text = self.query_one("#join-code", Input).value
        try:
            code = codes.parse(text)
        except InvalidCode as error:
            self.show_error(str(error))
            return
        self.show_error("")
        self.post_message(self.JoinRequested(str(code)))

    @on(Input.Changed, "#join-code")
    def _clear_error(self) -> None:
        self.show_error("")
