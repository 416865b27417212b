"""The home screen's contact list: pinned contacts from the ``ContactBook``, one per row.

Pure display plus keys: Enter asks to reconnect, R to rename, B to block or
unblock, Delete to remove. The widget posts the row's petname up; the home
screen confirms what cannot be undone and the app changes the book.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from p2pchat.i18n import t
from p2pchat.service.contacts import Contact


def last_seen_text(seconds: float) -> str:
    """A contact's last-seen time, local, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


class ContactList(DataTable[Text]):
    """Petname, verified mark, blocked mark, last seen."""

    BINDINGS = [
        Binding("enter", "select_cursor", t("contacts.key_reconnect"), id="contacts.reconnect"),
        Binding("r", "rename", t("contacts.key_rename"), id="contacts.rename"),
        Binding("b", "toggle_block", t("contacts.key_block"), id="contacts.block"),
        Binding("delete,x", "remove", t("contacts.key_remove"), id="contacts.remove"),
    ]

    @dataclass
    class Action(Message):
        """The user asked for ``action`` ("rename", "block", "unblock", "remove") on a contact."""

        action: str
        petname: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.by_petname: dict[str, Contact] = {}

    def on_mount(self) -> None:
        self.add_column(t("contacts.col_name"), key="name")
        self.add_column(t("contacts.col_verified"), key="verified")
        self.add_column(t("contacts.col_blocked"), key="blocked")
        self.add_column(t("contacts.col_last_seen"), key="last_seen")

    def set_contacts(self, contacts: Iterable[Contact]) -> None:
        """Show these contacts, keeping the cursor on the same petname when it is still there."""
        selected = self.selected_petname()
        self.clear()
        self.by_petname = {}
        for contact in contacts:
            self.by_petname[contact.petname] = contact
            self.add_row(
                # Text, never markup: a petname may come from the peer's announced label.
                Text(contact.petname),
                Text(t("contacts.verified_mark"), style="bold green")
                if contact.verified
                else Text(""),
                Text(t("contacts.blocked_mark"), style="bold red") if contact.blocked else Text(""),
                Text(last_seen_text(contact.last_seen)),
                key=contact.petname,
            )
        if selected in self.by_petname:
            self.move_cursor(row=self.get_row_index(selected))

    def selected_petname(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # the cursor is outside the (just cleared) table
            return None
        return row_key.value

    def _ask(self, action: str) -> None:
        petname = self.selected_petname()
        if petname is not None:
            self.post_message(self.Action(action, petname))

    def action_rename(self) -> None:
        self._ask("rename")

    def action_toggle_block(self) -> None:
        petname = self.selected_petname()
        if petname is not None:
            blocked = self.by_petname[petname].blocked
            self.post_message(self.Action("unblock" if blocked else "block", petname))

    def action_remove(self) -> None:
        self._ask("remove")
