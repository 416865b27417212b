"""The app's bridge from a running ``ChatSession`` to the screens, and its closing.

One event-pump worker per session turns ``session.events()`` into Textual
messages (``ServiceEventPosted``); while pairing they move the pairing along,
afterwards they go to the chat screen, and "last seen" is kept current in a
thread worker. Closing a session never hangs the terminal: ``CLOSE_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from textual import on, work

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_FAILURE
from p2pchat.i18n.error_words import notice_text
from p2pchat.service import events as ev
from p2pchat.service.api import ChatSession
from p2pchat.service.contacts import ContactError, Contacts
from p2pchat.tui.app_shell import PAIRING_PHASES, Phase
from p2pchat.tui.chat_requests import ChatRequests
from p2pchat.tui.messages import (
    PairingFailed,
    PairingSucceeded,
    ServiceClosed,
    ServiceEventPosted,
)
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.invite import InviteScreen

log = logging.getLogger(__name__)
# How often "last seen" is written while a conversation goes on (a disk write each time).
LAST_SEEN_EVERY = 60.0
# Closing must not hang the terminal if the network is gone.
CLOSE_TIMEOUT = 3.0


class ServicePump(ChatRequests):
    """Service events in, closes out; ``PairingFlow`` and ``P2PChatApp`` build on it."""

    phase: Phase
    _last_seen_saved: float

    @work(group="events", exit_on_error=False, description="pump events")
    async def _pump_events(self, service: ChatSession) -> None:
        try:
            async for event in service.events():
                self.post_message(ServiceEventPosted(service, event))
                if isinstance(event, ev.Closed):
                    break
        except P2PChatError as error:
            self.post_message(ServiceEventPosted(service, ev.failure(error, EXIT_FAILURE)))

    @on(ServiceEventPosted)
    def _service_event(self, message: ServiceEventPosted) -> None:
        if message.service is not self.service:
            return
        event = message.event
        if self.phase in PAIRING_PHASES:
            if isinstance(event, ev.CodeReady) and isinstance(self.screen, InviteScreen):
                self.screen.show_code(event.code, event.expires_in)
            elif isinstance(event, ev.Paired):
                self.post_message(PairingSucceeded(message.service, event))
            elif isinstance(event, ev.PeerLeft):
                self.post_message(PairingFailed(message.service, event.reason))
            elif isinstance(event, ev.Notice):
                # Our own words (a moved meeting point), never the peer's.
                self.notify(notice_text(event), severity="warning", markup=False)
            # A Failed is left to the pairing worker: wait_paired() raises the error
            # itself, and a changed key needs the exception, not its text.
            return
        chat = self.chat_screen
        if chat is not None:
            chat.apply_event(event)
            self._seen(chat, event)

    def _seen(self, chat: ChatScreen, event: ev.ServiceEvent) -> None:
        """Keep the contact's "last seen" current while you chat (not only at pairing)."""
        if chat.contact is None or self.contacts is None:
            return
        if not isinstance(event, ev.TextReceived | ev.ImageReceived | ev.Delivered):
            return
        now = time.monotonic()
        if now - self._last_seen_saved < LAST_SEEN_EVERY:
            return
        self._last_seen_saved = now
        self._record_seen(self.contacts, chat.contact.petname)

    @work(thread=True, group="last-seen", exit_on_error=False, description="last seen")
    def _record_seen(self, contacts: Contacts, petname: str) -> None:
        # A locked, fsynced file write: off the event loop, like every other disk write.
        try:
            contacts.touch(petname)
        except ContactError as error:
            log.debug("could not record last seen: %s", error)

    # ----- closing ----------------------------------------------------------------
    async def on_unmount(self) -> None:
        # However the app ends (Ctrl+C, a test leaving run_test), say bye and free the link.
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)

    @work(group="close", exit_on_error=False, description="close")
    async def _close(self, service: ChatSession) -> None:
        # The session is over either way; a slow or broken close must not hang the UI.
        with contextlib.suppress(P2PChatError, TimeoutError, OSError):
            await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        self.post_message(ServiceClosed(service))

    @work(group="close", exit_on_error=False, description="close and exit")
    async def _close_and_exit(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        self.exit(0)
