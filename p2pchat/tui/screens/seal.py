"""The first-run offer to seal the new identity with a passphrase (skippable).

``SealDialog`` asks for a passphrase twice and dismisses with it, or with None
when the person skips. It does no I/O: the app hands the passphrase to the
``seal_offer`` callback it was given (``cmd_tui``: ``store.identity.save`` and
the contact book's secrets), in a worker, since argon2id takes about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import t
from p2pchat.tui.error_text import describe_error

MAX_PASSPHRASE_CHARS = 1024


class SealDialog(ModalScreen[str | None]):
    """Passphrase twice, Seal or Skip; Esc skips."""

    BINDINGS = [Binding("escape", "skip", t("seal.skip"), id="seal.skip")]

    def __init__(self) -> None:
        super().__init__(classes="confirm-dialog")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content(t("seal.title")), classes="dialog-title")
            yield Static(Content(t("seal.text")), classes="dialog-text")
            yield Input(
                id="seal-passphrase",
                password=True,
                placeholder=t("seal.passphrase"),
                max_length=MAX_PASSPHRASE_CHARS,
            )
            yield Input(
                id="seal-again",
                password=True,
                placeholder=t("seal.again"),
                max_length=MAX_PASSPHRASE_CHARS,
            )
            yield Static("", id="seal-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("seal.ok"), id="seal-ok", variant="primary")
                yield Button(t("seal.skip"), id="seal-skip")

    def on_mount(self) -> None:
        self.query_one("#seal-passphrase", Input).focus()

    @on(Input.Submitted, "#seal-passphrase")
    def _next_field(self) -> None:
        self.query_one("#seal-again", Input).focus()

    @on(Input.Submitted, "#seal-again")
    @on(Button.Pressed, "#seal-ok")
    def _accept(self) -> None:
        first = self.query_one("#seal-passphrase", Input).value
        again = self.query_one("#seal-again", Input).value
        if not first:
            self._error(t("seal.empty"))
        elif first != again:
            self._error(t("seal.mismatch"))
        else:
            self.dismiss(first)

    def _error(self, text: str) -> None:
        self.query_one("#seal-error", Static).update(Content(text))

    @on(Button.Pressed, "#seal-skip")
    def action_skip(self) -> None:
        self.dismiss(None)


def offer_sealing(app: App[Any], seal: Callable[[str], None]) -> None:
    """Show the dialog; a passphrase goes to ``seal`` in a thread, the outcome to a notice."""

    def sealed(passphrase: str) -> None:
        try:
            seal(passphrase)
        except P2PChatError as error:
            app.call_from_thread(
                app.notify,
                t("seal.failed", reason=describe_error(error)),
                severity="error",
                markup=False,
            )
            return
        app.call_from_thread(app.notify, t("seal.done"), markup=False)

    def answered(passphrase: str | None) -> None:
        if passphrase:
            app.run_worker(
                lambda: sealed(passphrase), thread=True, group="seal", exit_on_error=False
            )

    app.push_screen(SealDialog(), callback=answered)
