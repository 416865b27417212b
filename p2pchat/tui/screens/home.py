"""The home screen: who I am (fingerprint), new invite, join with a code, my contacts.

The code field completes PGP words as you type (``core.codes.completions``) and
checks the code with ``core.codes.parse`` before anything touches the network;
problems are shown inline under the field. The contact list (when the app has a
contact book) reconnects with Enter and renames, blocks or removes contacts,
asking first before what cannot be undone. Network and file work is the app's:
this screen only posts ``InviteRequested`` / ``JoinRequested`` /
``ReconnectRequested`` / ``ContactChange`` up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Button, Footer, Input, Label, Static

from p2pchat.core import codes
from p2pchat.core.errors import InvalidCode
from p2pchat.i18n import t
from p2pchat.service.contacts import Contact
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.screens.confirm import ConfirmDialog, NameDialog
from p2pchat.tui.widgets.contact_list import ContactList


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

    @dataclass
    class ReconnectRequested(Message):
        """Meet this pinned contact again, without a code."""

        petname: str

    @dataclass
    class ContactChange(Message):
        """Change the book: ``action`` is rename / block / unblock / remove (already confirmed)."""

        action: str
        petname: str
        new_petname: str = ""

    def __init__(
        self,
        fingerprint: str,
        *,
        initial_code: str = "",
        focus_code: bool = False,
        contacts: Sequence[Contact] | None = None,
    ) -> None:
        super().__init__(id="home")
        self.fingerprint = fingerprint
        self.initial_code = initial_code
        # None: no contact book in this mode (tests, demo), so no contacts section at all.
        self.contacts = contacts
        # `p2pchat join` without $P2PCHAT_CODE: the user came to type a code, so take it.
        self.focus_code = focus_code or bool(initial_code)

    def compose(self) -> ComposeResult:
        # Scrolls instead of being cut off on a small terminal (80x24 with contacts).
        with Center(id="home-center"), VerticalScroll(id="home-box"):
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
            if self.contacts is not None:
                yield Label(t("contacts.title"), classes="field-label")
                yield ContactList(id="contacts")
                yield Static(t("contacts.empty"), id="contacts-empty", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#home-status").display = False
        if self.contacts is not None:
            self.set_contacts(self.contacts)
        if self.focus_code:
            self.query_one("#join-code", Input).focus()

    def set_contacts(self, contacts: Sequence[Contact]) -> None:
        """Show the contact book as it is now."""
        self.contacts = contacts
        table = self.query_one(ContactList)
        table.set_contacts(contacts)
        table.display = bool(contacts)
        self.query_one("#contacts-empty", Static).display = not contacts

    @on(ContactList.RowSelected, "#contacts")
    def _reconnect(self, event: ContactList.RowSelected) -> None:
        event.stop()
        if self.busy or event.row_key.value is None:
            return
        self.show_error("")
        self.post_message(self.ReconnectRequested(event.row_key.value))

    @on(ContactList.Action)
    def _contact_action(self, event: ContactList.Action) -> None:
        event.stop()
        petname, action = event.petname, event.action
        if self.busy:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(self.ContactChange(action, petname))

        def renamed(new_name: str | None) -> None:
            if new_name and new_name != petname:
                self.post_message(self.ContactChange("rename", petname, new_name))

        if action == "rename":
            title = t("contacts.rename_title", name=petname)
            self.app.push_screen(NameDialog(title, petname), renamed)
        elif action == "remove":
            dialog = ConfirmDialog(
                t("contacts.remove_title", name=petname),
                t("contacts.remove_text", name=petname),
                t("contacts.remove_ok"),
            )
            self.app.push_screen(dialog, confirmed)
        elif action == "block":
            dialog = ConfirmDialog(
                t("contacts.block_title", name=petname),
                t("contacts.block_text", name=petname),
                t("contacts.block_ok"),
            )
            self.app.push_screen(dialog, confirmed)
        else:  # unblocking refuses nothing: no question needed
            self.post_message(self.ContactChange(action, petname))

    def show_error(self, text: str) -> None:
        """Show a problem inline (an invalid code, a failed pairing); empty text clears it."""
        error = self.query_one("#join-error", Static)
        error.update(Content(text))
        error.set_class(bool(text), "-visible")

    def show_status(self, text: str) -> None:
        """A one-line note under the join row (a contact was renamed, blocked, ...)."""
        self._set_status(Content(text))

    def watch_busy(self, busy: bool) -> None:
        for button in self.query(Button):
            button.disabled = busy
        self._set_status(Content(t("home.connecting")) if busy else Content(""))

    def _set_status(self, text: Content) -> None:
        # An empty status line takes no row: 80x24 needs every one.
        status = self.query_one("#home-status", Static)
        status.update(text)
        status.display = bool(text.plain)

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
            self.show_error(describe_error(error))
            return
        self.show_error("")
        self.post_message(self.JoinRequested(str(code)))

    @on(Input.Changed, "#join-code")
    def _clear_error(self) -> None:
        self.show_error("")
