"""The state of one ChatService, and the helpers each of its parts shares.

``ServiceBase`` owns the fields of a running service (state, the peer, link and
session, the event queue, its tasks, the incoming-image path) and the message
ledger (``ledger.MessageLedger``: the one record of every message, read by front
ends as ``conversation``). ``pairing_flow`` (invite, join, reconnect, bind),
``closing`` (delivery, bye, shutdown) and ``chat_service`` (sends and session
events) each add their part; ``ChatService`` is their sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine

import nacl.signing

from p2pchat.core import session as core_session
from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import LocalProtocolError, P2PChatError
from p2pchat.core.keys import Capabilities
from p2pchat.core.labels import check_own_label
from p2pchat.core.message import ConversationView
from p2pchat.media.policy import SanitizedImage
from p2pchat.net.link import Link
from p2pchat.net.mailbox import MailboxClient
from p2pchat.service import events as ev
from p2pchat.service.config import ServiceConfig, State
from p2pchat.service.incoming_images import IncomingImages
from p2pchat.service.ledger import MessageLedger
from p2pchat.service.worker_spare import WorkerSpare

log = logging.getLogger("p2pchat.service.chat_service")


class ServiceBase:
    """Fields and shared helpers of ChatService (see the module docstring)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        # InvalidLabel (a usage error) here, before any network: the peer would refuse it.
        self._own_label = check_own_label(config.label)
        self.identity = config.identity or nacl.signing.SigningKey.generate()
        self.state: State = "idle"
        self.safety_number: str | None = None
        self.peer_identity: bytes | None = None
        self.peer_capabilities: Capabilities | None = None
        self.connection_kind: ev.ConnectionKind = "unknown"
        self.rtt: float | None = None
        self.reconnect_psk: bytes | None = None
        self._joined_code: bytes | None = None
        self._events: asyncio.Queue[ev.ServiceEvent] = asyncio.Queue()
        self._paired = asyncio.Event()
        self._pair_error: BaseException | None = None
        self._mailbox: MailboxClient | None = None
        self._link: Link | None = None
        self._session: core_session.Session | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._output_ready = asyncio.Event()
        # Every message of the chat, its transfer and its delivery: kept once, here.
        self._ledger = MessageLedger(config, self._emit)
        # Filled in by close(): how many sent items the peer never confirmed.
        self.undelivered = 0
        self._peer_said_bye = asyncio.Event()
        self._closed = asyncio.Event()
        # close() and _shutdown() run once each, in tasks of their own: a second caller
        # (the peer's goodbye and the user's Ctrl-Q at the same moment) joins the first
        # instead of cancelling it halfway through aiortc's close, which never recovers.
        self._closing: asyncio.Task[None] | None = None
        self._shutting_down: asyncio.Task[None] | None = None
        self._incoming_images = IncomingImages(config, self._emit_incoming, self._closed.is_set)
        # Our own photos being cleaned by image workers: shutting down kills them.
        self._preparing: set[asyncio.Future[SanitizedImage]] = set()
        # A warm sending worker for the next of our photos (``expect_photo``).
        self._send_spare = WorkerSpare("send", check=True, keep_free=0)
        self.vault = self._incoming_images.vault

    @property
    def conversation(self) -> ConversationView:
        """Every message of this chat with its state, read-only (the service updates it)."""
        return self._ledger.view

    @property
    def outgoing_image_bytes(self) -> int:
        """Bytes of our photos the session still holds (0 once sent, cancelled or closed)."""
        return 0 if self._session is None else self._session.outgoing_image_bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(bytes(self.identity.verify_key))

    # ------------------------------------------------------------------ events
    async def next_event(self) -> ev.ServiceEvent:
        return await self._events.get()

    async def events(self) -> AsyncIterator[ev.ServiceEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, ev.Closed):
                return

    def _emit(self, event: ev.ServiceEvent) -> None:
        self._events.put_nowait(event)

    def _emit_incoming(self, event: ev.ServiceEvent) -> None:
        # A photo whose ack is held and that the re-sanitiser refused is never kept.
        if self.config.confirm_images and isinstance(event, ev.ImageRejected):
            self.refuse_image(event.message_id)
        if isinstance(event, ev.ImageReceived):
            self._ledger.image_received(event)
        self._emit(event)

    # ------------------------------------------------- provided by the other parts
    def refuse_image(self, message_id: str) -> None:
        raise NotImplementedError  # chat_service.ChatService

    def _dispatch(self, session_events: list[core_session.SessionEvent]) -> None:
        raise NotImplementedError  # chat_service.ChatService

    async def _lost(self, error: P2PChatError) -> None:
        raise NotImplementedError  # closing.Closing

    # ------------------------------------------------------------------ helpers
    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.append(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("service task failed", exc_info=task.exception())

    def _require_state(self, *allowed: State) -> None:
        if self.state not in allowed:
            raise LocalProtocolError(f"Cannot do that now: the conversation is {self.state}.")

    def _require_session(self) -> core_session.Session:
        if self._session is None or self.state not in ("paired", "closing"):
            raise LocalProtocolError("Not connected to a peer.")
        return self._session

    async def wait_closed(self) -> None:
        await self._closed.wait()
