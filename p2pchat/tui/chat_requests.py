"""The app's side of what a chat screen asks for: sends, typing, cancels, verification, timer.

``ChatRequests`` is the base of ``P2PChatApp`` (through ``ServicePump``,
``ContactActions`` and ``PairingFlow``). ``ChatScreen`` posts its
requests up (``SendText``, ``SendImage``, ``Typing``, ``CancelTransfer``,
``MarkVerified``, ``SetTimer``, ``PhotoComing``); each network call runs in a worker against the
current service, and the result goes back down to the screen. Sends go through
one outbox worker per service so messages keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from textual import on, work

from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import t
from p2pchat.service.api import ChatSession
from p2pchat.service.contacts import ContactError, Contacts
from p2pchat.tui.app_shell import AppShell
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.messages import SendFinished
from p2pchat.tui.screens.chat import ChatScreen


class ChatRequests(AppShell):
    """Handlers for the chat screen's requests; P2PChatApp adds screens, pairing, closing."""

    # Set by P2PChatApp.__init__ (the outbox is replaced with each new service).
    service: ChatSession | None
    contacts: Contacts | None
    view_seconds: float
    verified_fingerprints: set[str]
    _outbox: asyncio.Queue[tuple[str, str, Any, bool]]

    @property
    def chat_screen(self) -> ChatScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    @on(ChatScreen.SendText)
    def _queue_text(self, message: ChatScreen.SendText) -> None:
        self._outbox.put_nowait(("text", message.local_id, message.text, False))

    @on(ChatScreen.SendImage)
    def _queue_image(self, message: ChatScreen.SendImage) -> None:
        self._outbox.put_nowait(("image", message.local_id, message.prepared, message.view_once))

    @work(group="outbox", exit_on_error=False, description="send outbox")
    async def _send_outbox(self, service: ChatSession, outbox: asyncio.Queue[Any]) -> None:
        while True:
            kind, local_id, payload, view_once = await outbox.get()
            try:
                if kind == "text":
                    message_id = await service.send_text(payload)
                else:
                    message_id = await service.send_image(
                        payload, view_once=view_once, view_seconds=self.view_seconds
                    )
            except P2PChatError as error:
                self.post_message(SendFinished(local_id, None, describe_error(error)))
            else:
                self.post_message(SendFinished(local_id, str(message_id)))
            # Hold no reference to the photo while idle: a view-once copy must not linger.
            del payload

    @on(SendFinished)
    def _send_finished(self, message: SendFinished) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.message_sent(message.local_id, message.message_id, message.error)

    async def _prepare_image(self, data: bytes, original_size: bool, **fixes: Any) -> Any:
        if self.service is None:
            raise P2PChatError(t("errors.not_connected"))
        return await self.service.prepare_image(data, original_size=original_size, **fixes)

    @on(ChatScreen.PhotoComing)
    def _photo_coming(self) -> None:
        if self.service is not None:
            self.service.expect_photo()

    @on(ChatScreen.Typing)
    def _typing(self) -> None:
        if self.service is not None:
            self._send_typing(self.service)

    @work(group="typing", exclusive=True, exit_on_error=False, description="send typing")
    async def _send_typing(self, service: ChatSession) -> None:
        # Only a hint: if it cannot be sent, nothing is lost.
        with contextlib.suppress(P2PChatError):
            await service.send_typing()

    @on(ChatScreen.CancelTransfer)
    def _cancel_transfer(self, message: ChatScreen.CancelTransfer) -> None:
        if self.service is not None:
            self._cancel(self.service, message.message_id)

    @work(group="cancel", exit_on_error=False, description="cancel")
    async def _cancel(self, service: ChatSession, message_id: str) -> None:
        try:
            await service.cancel_transfer(message_id)
        except P2PChatError as error:
            self.notify(describe_error(error), severity="error", markup=False)

    @on(ChatScreen.MarkVerified)
    def _mark_verified(self) -> None:
        chat = self.chat_screen
        if chat is None:
            return
        self.verified_fingerprints.add(chat.paired.peer_fingerprint)
        if chat.contact is not None and self.contacts is not None:
            try:
                chat.contact = self.contacts.verify(chat.contact.petname)
            except ContactError as error:
                self.notify(describe_error(error), severity="error", markup=False)

    @on(ChatScreen.SetTimer)
    def _set_timer(self, message: ChatScreen.SetTimer) -> None:
        if self.service is not None:
            self._send_timer(self.service, message.seconds)

    @work(group="timer", exit_on_error=False, description="send timer")
    async def _send_timer(self, service: ChatSession, seconds: int) -> None:
        # The TimerChanged event the service emits updates the screen on success.
        try:
            await service.set_timer(seconds)
        except P2PChatError as error:
            reason = describe_error(error)
            self.notify(t("timer.not_changed", reason=reason), severity="error", markup=False)
