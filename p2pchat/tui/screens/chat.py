"""The chat screen: messages, transfers, status, and the composer; the user's side of it.

Attributes down (in the base class, ``chat_updates.ChatUpdates``): the app calls
``apply_event`` with each service event and ``message_sent`` when a send
finished. Slash commands are parsed in ``chat_commands``. Messages up:
``SendText``, ``SendImage``, ``CancelTransfer``, ``MarkVerified``, ``SetTimer``,
``BlockPeer`` and ``Leave`` ask the app (which owns the service and its
workers) to act.

Beside the widgets the screen keeps the conversation's in-memory model
(``core.conversation.Conversation``): it applies the agreed disappearing timer
(expired messages leave the list) and is what ``/export`` writes, the only time
anything of a conversation reaches a disk, and never a view-once photo.
"""

from __future__ import annotations

import contextlib
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

from p2pchat.core.conversation import Conversation
from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.service import events as ev
from p2pchat.service.contacts import Contact
from p2pchat.tui.screens.chat_commands import run_command
from p2pchat.tui.screens.chat_updates import ChatUpdates
from p2pchat.tui.screens.confirm import ConfirmDialog, NameDialog
from p2pchat.tui.screens.file_picker import FilePicker
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.image_viewer import ImageViewerScreen
from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult, removed_items
from p2pchat.tui.screens.verify import VerifyScreen
from p2pchat.tui.screens.view_once import ViewOnceScreen
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import MessageList
from p2pchat.tui.widgets.sealed import SealedPhoto
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
    ) -> None:
        super().__init__(id="chat")
        self.paired = paired
        self.contact = contact  # the pinned contact, when the app has a contact book
        # The user's own name for a pinned contact beats whatever the peer announces.
        shown = contact.petname if contact is not None else paired.peer_label
        self.peer_label = safe_label(shown, 40) or t("chat.peer")
        self.clock = clock
        self.view_seconds = view_seconds
        # Wall clock for the stamps only; countdowns on ``clock`` (monotonic).
        self.conversation = Conversation(time.time, timer_clock=clock)
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
        self.query_one(MessageList).add_text(local_id, "out", self.my_label, text)
        self.conversation.add_outgoing_text(local_id, text)
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
        self.app.push_screen(HelpScreen())

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
        """Remove what the disappearing timer says is gone (the peer does the same)."""
        gone = self.conversation.expire(self.clock())
        if not gone:
            return
        messages = self.query_one(MessageList)
        for message_id in gone:
            item = messages.remove_message(self._list_ids.pop(message_id, message_id))
            if isinstance(item, SealedPhoto):
                # An unopened view-once photo disappears with its placeholder.
                item.vault.close(item.vault_id)

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

        self.app.push_screen(FilePicker(self.start_dir), picked)

    def open_send_dialog(self, path: Path, *, view_once: bool = False) -> None:
        if self.ended:
            return

        def chosen(result: SendDialogResult | None) -> None:
            if result is None:
                return
            prepared = result.prepared
            local_id = local_message_id()
            removed = removed_items(prepared.report)
            if result.view_once:
                self._explain_view_once()
            self.query_one(MessageList).add_image(
                local_id,
                "out",
                self.my_label,
                # The sender keeps no viewable copy of a view-once photo, not even here.
                b"" if result.view_once else prepared.data,
                report_lines=removed,
                nothing_removed=t("report.nothing_found"),
                caption=t("chat.view_once_caption") if result.view_once else "",
            )
            self.conversation.add_outgoing_image(
                local_id,
                mime=prepared.mime,
                width=prepared.width,
                height=prepared.height,
                size=len(prepared.data),
                view_once=result.view_once,
                view_seconds=self.view_seconds,
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

    @on(ImageView.Selected)
    def _view_image(self, message: ImageView.Selected) -> None:
        viewer = ImageViewerScreen(message.view.data, renderer=message.view.renderer)
        self._focus_composer_behind()
        self.app.push_screen(viewer)

    @on(SealedPhoto.OpenRequested)
    def _open_view_once(self, message: SealedPhoto.OpenRequested) -> None:
        sealed = message.sealed

        def closed(shown: bool | None) -> None:
            if not shown:
                sealed.mark_gone("expired")
                self.query_one(MessageList).add_notice(t("view_once.gone"), level="warning")
                return
            sealed.mark_gone("viewed")
            service = getattr(self.app, "service", None)
            if service is not None:
                self.run_worker(
                    self._send_opened(service, sealed.message_id),
                    group="view-once",
                    exit_on_error=False,
                )

        viewer = ViewOnceScreen(
            sealed.vault,
            sealed.vault_id,
            view_seconds=sealed.view_seconds,
            renderer=self.renderer or "auto",
        )
        self._focus_composer_behind()
        self.app.push_screen(viewer, closed)

    def _focus_composer_behind(self) -> None:
        # Moved before the viewer opens, so the focus Textual restores when it closes is
        # already the composer (no moment where the photo line still has it).
        self.query_one(Composer).focus(scroll_visible=False)

    async def _send_opened(self, service: Any, message_id: str) -> None:
        # The peer may have left meanwhile: the photo is gone either way.
        with contextlib.suppress(P2PChatError):
            await service.mark_opened(message_id)
