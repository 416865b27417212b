"""Small modal dialogs that ask before something cannot be undone, or ask for a name.

``ConfirmDialog`` dismisses True only on its confirm button (Esc and Cancel are
False: the safe answer is the default). ``NameDialog`` asks for a petname and
dismisses with the typed text, or None. Neither does any I/O.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from p2pchat.i18n import t


class ConfirmDialog(ModalScreen[bool]):
    """A question with a (dangerous) confirm button and a focused Cancel."""

    BINDINGS = [Binding("escape", "cancel", t("keys.cancel"), id="confirm.cancel")]

    def __init__(self, title: str, text: str, confirm_label: str, cancel_label: str = "") -> None:
        super().__init__(classes="confirm-dialog")
        self.title_text = title
        self.text = text
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label or t("send.cancel")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content(self.title_text), classes="dialog-title")
            yield Static(Content(self.text), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, id="confirm", variant="error")
                yield Button(self.cancel_label, id="confirm-cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class NameDialog(ModalScreen[str | None]):
    """Asks for a petname (rename a contact); Enter accepts, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", t("keys.cancel"), id="name.cancel")]

    def __init__(self, title: str, current: str) -> None:
        super().__init__(classes="confirm-dialog")
        self.title_text = title
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(Content(self.title_text), classes="dialog-title")
            yield Input(value=self.current, id="name-input", max_length=64)
            yield Static("", id="name-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(t("contacts.rename_ok"), id="name-ok", variant="primary")
                yield Button(t("send.cancel"), id="name-cancel")

    def on_mount(self) -> None:
        self.query_one("#name-input", Input).focus()

    def show_error(self, text: str) -> None:
        self.query_one("#name-error", Static).update(Content(text))

    @on(Input.Submitted, "#name-input")
    @on(Button.Pressed, "#name-ok")
    def _accept(self) -> None:
        value = self.query_one("#name-input", Input).value.strip()
        if not value:
            self.show_error(t("contacts.name_empty"))
            return
        self.dismiss(value)

    @on(Button.Pressed, "#name-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
