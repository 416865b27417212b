"""What the user does with contacts in the app: the home screen's list and the chat's requests.

Everything goes through the ``Contacts`` facade (``service/contacts.py``),
which re-reads the book first: another p2pchat process may have changed it.
Blocking the peer of the running chat also ends that chat.
"""

from __future__ import annotations

from textual import on

from p2pchat.i18n import t
from p2pchat.service.contacts import Contact, ContactError, ContactGuard
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.service_pump import ServicePump


class ContactActions(ServicePump):
    """The home screen (and its contact list) and the contact actions of both screens."""

    guard: ContactGuard | None

    @property
    def home_screen(self) -> HomeScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                return screen
        return None

    def _back_home(self, error: str, status: str = "") -> None:
        self.phase = "home"
        self.guard = None
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        home = self.home_screen
        if home is not None:
            home.busy = False
            home.show_error(error)
            self._refresh_contacts()
            if status:
                home.show_status(status)

    def _read_contacts(self) -> list[Contact] | None:
        """The book's contacts now (another process may have changed them), or None."""
        if self.contacts is None:
            return None
        try:
            return self.contacts.list()
        except ContactError as error:
            self.notify(describe_error(error), severity="error", timeout=30, markup=False)
            return []

    def _refresh_contacts(self) -> None:
        home = self.home_screen
        contacts = self._read_contacts()
        if home is not None and contacts is not None:
            home.set_contacts(contacts)

    @on(HomeScreen.ContactChange)
    def _change_contact(self, message: HomeScreen.ContactChange) -> None:
        contacts, home = self.contacts, self.home_screen
        if contacts is None or home is None:
            return
        name = message.petname
        try:
            if message.action == "rename":
                changed = contacts.rename(name, message.new_petname)
                status = t("contacts.renamed", old=name, new=changed.petname)
            elif message.action == "block":
                contacts.block(name)
                status = t("contacts.blocked", name=name)
            elif message.action == "unblock":
                contacts.unblock(name)
                status = t("contacts.unblocked", name=name)
            elif message.action == "remove":
                contacts.forget(name)
                status = t("contacts.removed", name=name)
            else:
                return
        except ContactError as error:
            home.show_error(describe_error(error))
            return
        home.show_error("")
        self._refresh_contacts()
        home.show_status(status)

    @on(ChatScreen.BlockPeer)
    def _block_peer(self) -> None:
        chat = self.chat_screen
        if chat is None or chat.contact is None or self.contacts is None:
            return
        petname = chat.contact.petname
        try:
            self.contacts.block(petname)
        except ContactError as error:
            self.notify(describe_error(error), severity="error", markup=False)
            return
        service, self.service = self.service, None
        self._back_home("", status=t("contacts.blocked", name=petname))
        if service is not None:
            self._close(service)

    @on(ChatScreen.RenameContact)
    def _rename_from_chat(self, message: ChatScreen.RenameContact) -> None:
        chat, contacts = self.chat_screen, self.contacts
        if chat is None or chat.contact is None or contacts is None:
            return
        try:
            changed = contacts.rename(chat.contact.petname, message.new_petname)
        except ContactError as error:
            self.notify(describe_error(error), severity="error")
            return
        chat.contact_renamed(changed)
