"""The chat screen: messages, transfers, status, and the composer; the user's side of it.

Attributes down (in the base class, ``chat_updates.ChatUpdates``): the app calls
``apply_event`` with each service event and ``message_sent`` when a send
finished. Slash commands are parsed in ``chat_commands``. Messages up:
``SendText``, ``SendImage``, ``CancelTransfer``, ``MarkVerified``, ``SetTimer``,
``BlockPeer`` and ``Leave`` ask the app (which owns the service and its
workers) to act.

The messages are the service's (``ChatService.conversation``, which the app
passes in, read only): their states, the agreed disappearing timer (what it
removed leaves the list) and what ``/export`` writes, the only time anything of
a conversation reaches a disk, and never a view-once photo.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Static

from p2pchat.core.labels import safe_label
from p2pchat.core.message import ConversationView, EmptyConversation
from p2pchat.i18n import t
from p2pchat.service import events as ev
from p2pchat.service.contacts import Contact
from p2pchat.tui.screens.chat_commands import run_command
from p2pchat.tui.screens.chat_updates import ChatUpdates
from p2pchat.tui.screens.confirm import ConfirmDialog, NameDialog
from p2pchat.tui.screens.file_picker import FilePicker
from p2pchat.tui.screens.image_viewer import ImageViewerScreen
from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult, removed_items
from p2pchat.tui.screens.verify import VerifyScreen
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import MessageList
from p2pchat.tui.widgets.status_bar import StatusBar
from p2pchat.tui.widgets.transfer_bar import TransferPanel

PrepareImage = Callable[[bytes, bool], Awaitable[Any]]
TYPING_SENT_EVERY = 3.0
# How often expired messages are looked for (real seconds; the clock may be faster).
EXPIRY_CHECK_SECONDS = 0.5
_local_ids = itertools.count(1)


def local_message_id() -> str:
    """A placeholder id for a message until the service returns its real id."""
    return f"local-{next(_local_ids)}"


class ChatScreen(ChatUpdates):
    """One conversation with one peer."""

    BINDINGS = [
        Binding("f1", "help", t("keys.help"), tooltip=t("help.help"), id="chat.help"),
        Binding("f2", "verify", t("keys.verify"), tooltip=t("help.verify"), id="chat.verify"),
        Binding(
            "ctrl+o",
            "send_image",
            t("keys.send_image"),
            tooltip=t("help.send_image"),
            id="chat.send_image",
            priority=True,
        ),
        Binding(
            "f8",
            "cancel_transfer",
            t("keys.cancel_transfer"),
            tooltip=t("help.cancel_transfer"),
            id="chat.cancel_transfer",
        ),
        # Offered once the conversation is over (see check_action).
        Binding("escape", "back_home", t("keys.back_home"), id="chat.back_home"),
        Binding(
            "ctrl+q", "leave", t("keys.quit"), tooltip=t("help.quit"), id="chat.quit", priority=True
        ),
    ]

    @dataclass
    class SendText(Message):
        local_id: str
        text: str

    @dataclass
    class SendImage(Message):
        local_id: str
        prepared: Any  # media.sanitize.SanitizedImage
        view_once: bool

    @dataclass
    class Typing(Message):
        """The user is typing (sent at most every few seconds)."""

    @dataclass
    class PhotoComing(Message):
        """A file picker or the send dialog opened: a photo may come (warm a worker)."""

    @dataclass
    class CancelTransfer(Message):
        message_id: str

    @dataclass
    class MarkVerified(Message):
        """The user compared the safety number and it matched."""

    @dataclass
    class Leave(Message):
        """The user wants to end the conversation."""

    @dataclass
    class RenameContact(Message):
        """Rename the pinned contact of this chat (the app owns the contact book)."""

        new_petname: str

    @dataclass
    class BackHome(Message):
        """The conversation is over; the user wants the home screen (reconnect, new invite)."""

    @dataclass
    class SetTimer(Message):
        """Agree a disappearing-message timer with the peer (0: off)."""

        seconds: int

    @dataclass
    class BlockPeer(Message):
        """Block this (pinned) contact and close the conversation; already confirmed."""

    def __init__(
        self,
        *,
        paired: ev.Paired,
        my_label: str,
        prepare_image: PrepareImage,
        renderer: str | None = None,
        verified: bool = False,
        key_changed: bool = False,
        start_dir: Path | None = None,
        contact: Contact | None = None,
        clock: Callable[[], float] = time.monotonic,
        view_seconds: float = 10.0,
        conversation: ConversationView | None = None,
    ) -> None:
        super().__init__(id="chat")
        self.paired = paired
        self.contact = contact  # the pinned contact, when the app has a contact book
        # The user's own name for a pinned contact beats whatever the peer announces.
        shown = contact.petname if contact is not None else paired.peer_label
        self.peer_label = safe_label(shown, 40) or t("chat.peer")
        self.clock = clock
        self.view_seconds = view_seconds
        # The service's record of this chat; a screen on its own shows no history.
        self.conversation: ConversationView = (
            conversation if conversation is not None else EmptyConversation()
        )
        self.my_label = safe_label(my_label, 40) or t("chat.me")
        self.prepare_image = prepare_image
        self.renderer = renderer
        self.verified = verified
        self.key_changed = key_changed
        self.start_dir = start_dir or Path.cwd()
        self._typing_sent_at = float("-inf")

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(t("verify.key_changed_banner"), id="key-banner")
        if self.renderer is None:
            self.renderer = getattr(self.app, "image_renderer", "auto")
        yield MessageList(renderer=self.renderer, id="messages")
        yield Static("", id="typing")
        yield TransferPanel(id="transfers")
        yield Composer(id="composer", placeholder=t("chat.placeholder"))
        yield Footer()

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.paired = True
        status.verified = self.verified
        status.connection = "connected"
        status.connection_kind = self.paired.connection
        self.query_one("#key-banner").display = self.key_changed
        messages = self.query_one(MessageList)
        messages.add_notice(t("chat.paired_notice", peer=self.peer_label))
        if not self.paired.peer_view_once:
            messages.add_notice(t("chat.peer_no_view_once"), level="warning")
        self.query_one(Composer).focus()
        self.set_interval(EXPIRY_CHECK_SECONDS, self.expire_messages)

    # ----- user input -------------------------------------------------------------
    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        text = message.text.strip("\n")
        if text.startswith("/"):
            run_command(self, text)
            return
        if self.ended:
            self.query_one(MessageList).add_notice(t("chat.not_connected"), level="warning")
            return
        local_id = local_message_id()
        self.view.add_own_text(local_id, self.my_label, text)
        self.post_message(self.SendText(local_id, text))

    @on(Composer.Changed)
    def _composing(self, message: Composer.Changed) -> None:
        text = message.text_area.text
        if self.ended or not text or text.startswith("/"):
            return
        now = time.monotonic()
        if now - self._typing_sent_at >= TYPING_SENT_EVERY:
            self._typing_sent_at = now
            self.post_message(self.Typing())

    def action_help(self) -> None:
        # The app's own help: the help lists this screen's keys, so this screen never imports it.
        self.call_later(self.run_action, "app.help")

    def prefill(self, text: str) -> None:
        """Put the start of a slash command in the composer for the user to finish."""
        composer = self.query_one(Composer)
        composer.text = text
        composer.move_cursor(composer.document.end)
        composer.focus()

    def action_send_view_once(self) -> None:
        """Choose a file; the send dialog opens with view-once already ticked."""
        if self.ended:
            return

        def picked(path: Path | None) -> None:
            if path is not None:
                self.open_send_dialog(path, view_once=True)

        self.post_message(self.PhotoComing())
        self.app.push_screen(FilePicker(self.start_dir), picked)

    def action_rename(self) -> None:
        """Give the pinned contact a name of your own (kept in the contact book)."""
        if self.contact is None:
            self.query_one(MessageList).add_notice(t("block.not_pinned"), level="warning")
            return

        def renamed(new_name: str | None) -> None:
            if new_name:
                self.post_message(self.RenameContact(new_name))

        title = t("contacts.rename_title", name=self.peer_label)
        self.app.push_screen(NameDialog(title, self.peer_label), renamed)

    def contact_renamed(self, contact: Contact) -> None:
        """The app renamed the contact: show the new name from now on."""
        old = self.peer_label
        self.contact = contact
        self.peer_label = safe_label(contact.petname, 40) or t("chat.peer")
        notice = t("contacts.renamed", old=old, new=self.peer_label)
        self.query_one(MessageList).add_notice(notice)

    def on_screen_resume(self) -> None:
        # After a viewer or a dialog closes, typing goes to the composer again (it
        # used to stay on the photo, so Enter reopened the viewer and the text was lost).
        self.query_one(Composer).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back_home":
            return self.ended
        return True

    def action_back_home(self) -> None:
        if self.ended:
            self.post_message(self.BackHome())

    def action_block(self) -> None:
        """Ask, then block this contact and close the conversation."""
        if self.contact is None:
            self.query_one(MessageList).add_notice(t("block.not_pinned"), level="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(self.BlockPeer())

        name = self.peer_label
        dialog = ConfirmDialog(
            t("contacts.block_title", name=name),
            t("block.chat_text", name=name),
            t("contacts.block_ok"),
        )
        self.app.push_screen(dialog, confirmed)

    def expire_messages(self) -> None:
        """Remove what the disappearing timer took from the conversation (the peer does too)."""
        self.view.remove_expired()

    def action_verify(self) -> None:
        def done(verified: bool | None) -> None:
            if verified and not self.verified:
                self.set_verified(True)
                self.post_message(self.MarkVerified())

        screen = VerifyScreen(
            self.paired.safety_number, verified=self.verified, key_changed=self.key_changed
        )
        self.app.push_screen(screen, done)

    def action_send_image(self) -> None:
        if self.ended:
            return

        def picked(path: Path | None) -> None:
            if path is not None:
                self.open_send_dialog(path)

        self.post_message(self.PhotoComing())
        self.app.push_screen(FilePicker(self.start_dir), picked)

    def open_send_dialog(self, path: Path, *, view_once: bool = False) -> None:
        if self.ended:
            return
        self.post_message(self.PhotoComing())  # its preview then takes the warm worker

        def chosen(result: SendDialogResult | None) -> None:
            if result is None:
                return
            prepared = result.prepared
            local_id = local_message_id()
            self.view.add_own_image(
                local_id,
                self.my_label,
                prepared.data,
                view_once=result.view_once,
                report_lines=removed_items(prepared.report),
                nothing_removed=t("report.nothing_found"),
            )
            self.post_message(self.SendImage(local_id, prepared, result.view_once))

        dialog = SendDialog(
            path,
            self.prepare_image,
            peer_view_once=self.paired.peer_view_once,
            view_once=view_once,
        )
        self.app.push_screen(dialog, chosen)

    def action_cancel_transfer(self) -> None:
        bar = self.query_one(TransferPanel).newest()
        if bar is None:
            self.notify(t("transfer.none"))
            return
        self.post_message(self.CancelTransfer(bar.message_id))

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def ask_timer(self, seconds: int) -> None:
        self.post_message(self.SetTimer(seconds))

    @on(ImageView.Selected)
    def _view_image(self, message: ImageView.Selected) -> None:
        viewer = ImageViewerScreen(message.view.data, renderer=message.view.renderer)
        self._focus_composer_behind()
        self.app.push_screen(viewer)
