"""One message lifecycle, kept once: the service's record of every message of the chat.

``MessageLedger`` owns the ``core.conversation.Conversation`` of one ChatService
and everything the service knows about a message on its way: the transfers in
flight (for progress and speed), which sends still wait for the peer's
confirmation, and which were never delivered. Each session event is applied
here exactly once and becomes the service event front ends render; the
service's own sends are recorded here as they are queued. Front ends read the
result through ``LiveConversation`` (``ChatService.conversation``) and never
feed it: nothing here is written anywhere, and no image bytes are ever kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from p2pchat.core import session as core_session
from p2pchat.core.conversation import Conversation, DisappearingTimer
from p2pchat.core.errors import LocalProtocolError
from p2pchat.core.labels import safe_label
from p2pchat.core.message import Message
from p2pchat.service import events as ev
from p2pchat.service.config import ServiceConfig

MAX_TEXT_SHOWN = 16_000


@dataclass
class _Transfer:
    direction: ev.Direction
    total: int
    started: float
    view_once: bool


class LiveConversation:
    """The read-only face of the service's conversation (a ``ConversationView``).

    Reading first lets the disappearing timer remove what is due, so a front end
    that only reads (even after the chat ended) sees messages vanish on time.
    """

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation

    def _due(self) -> Conversation:
        self._conversation.expire()
        return self._conversation

    @property
    def disappearing(self) -> DisappearingTimer:
        return self._conversation.disappearing

    def messages(self) -> list[Message]:
        return self._due().messages()

    def get(self, message_id: str) -> Message | None:
        return self._due().get(message_id)

    def __len__(self) -> int:
        return len(self._due())

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._due()

    def is_gone(self, message_id: str) -> bool:
        return self._due().is_gone(message_id)

    def next_deadline(self) -> float | None:
        return self._conversation.next_deadline()

    def export_text(self, *, me: str = "me", peer: str = "peer") -> str:
        return self._due().export_text(me=me, peer=peer)


class MessageLedger:
    """Messages of one ChatService: the model, transfers and delivery, each updated once."""

    def __init__(self, config: ServiceConfig, emit: Callable[[ev.ServiceEvent], None]) -> None:
        self._emit = emit
        # Wall clock for the stamps only; every countdown on the configured monotonic clock.
        self.model = Conversation(
            time.time, timer_clock=config.timer_clock, view_once_timeout=config.view_once_timeout
        )
        self.view = LiveConversation(self.model)
        # Without history nothing is ever added, so no later event finds a message to change.
        self._keep = config.keep_history
        self.transfers: dict[str, _Transfer] = {}
        self.pending_delivery: set[str] = set()
        # Sent, then cancelled by the peer (or not kept): never delivered.
        self.not_delivered: list[str] = []
        self.all_delivered = asyncio.Event()
        self.all_delivered.set()

    # ------------------------------------------------------------------ our sends
    def sent_text(self, message_id: str, text: str) -> None:
        """A text the session queued: in the model, waiting for the peer's ack."""
        if self._keep:
            self.model.add_outgoing_text(message_id, text)
            self.model.mark_sent(message_id)
        self._expect_delivery(message_id)

    def sent_image(
        self,
        message_id: str,
        *,
        mime: str,
        width: int,
        height: int,
        size: int,
        view_once: bool,
        view_seconds: float,
    ) -> None:
        if self._keep:
            self.model.add_outgoing_image(
                message_id,
                mime=mime,
                width=width,
                height=height,
                size=size,
                view_once=view_once,
                view_seconds=view_seconds,
            )
        self.transfers[message_id] = _Transfer("out", size, time.monotonic(), view_once)
        self._emit(ev.TransferStarted(message_id, "out", size, view_once))
        self._expect_delivery(message_id)

    def cancelled_by_us(self, message_id: str) -> None:
        transfer = self.transfers.pop(message_id, None)
        self.delivered(message_id)
        if transfer is not None:
            self._emit(ev.TransferCancelled(message_id, transfer.direction, by_peer=False))

    def timer_set(self, seconds: int, *, by_peer: bool) -> None:
        with contextlib.suppress(ValueError):  # the session refuses other values already
            self.model.set_disappearing(DisappearingTimer(seconds))
        self._emit(ev.TimerChanged(seconds, by_peer=by_peer))

    def viewed(self, message_id: str) -> None:
        """We opened a received view-once photo and its viewer closed: viewed, for good."""
        with contextlib.suppress(LocalProtocolError):
            self.model.open_view_once(message_id)
        with contextlib.suppress(LocalProtocolError):
            self.model.finish_view_once(message_id)

    # ----------------------------------------------------------- what arrived
    def image_received(self, image: ev.ImageReceived) -> None:
        """A received photo passed the re-sanitiser: the model records it (never its bytes)."""
        if not self._keep:
            return
        size = len(image.data)
        self.model.apply(
            core_session.ImageOffered(
                image.message_id,
                size,
                image.mime,
                image.width,
                image.height,
                image.view_once,
                image.view_seconds,
            )
        )
        self.model.apply(
            core_session.ImageComplete(
                image.message_id,
                b"",
                image.mime,
                image.width,
                image.height,
                image.view_once,
                image.view_seconds,
            )
        )

    def apply(self, event: core_session.SessionEvent) -> ev.ServiceEvent | None:
        """Apply one session event to the model once; the service event to emit, if any.

        Photos' arrival (offer, completion) is left to the service: it is recorded
        by ``image_received`` once the re-sanitiser accepted it.
        """
        s = core_session
        if isinstance(event, s.TextReceived):
            text = safe_label(event.text, MAX_TEXT_SHOWN, multiline=True)
            if self._keep:
                self.model.apply(s.TextReceived(event.id, text, event.sent_at))
            return ev.TextReceived(event.id, text, event.sent_at)
        if isinstance(event, s.ImageOffered):
            self.transfers[event.id] = _Transfer(
                "in", event.size, time.monotonic(), event.view_once
            )
            return ev.TransferStarted(event.id, "in", event.size, event.view_once)
        if isinstance(event, s.ChunkProgress):
            self.model.apply(event)
            transfer = self.transfers.get(event.id)
            if transfer is None:
                return None
            elapsed = max(time.monotonic() - transfer.started, 1e-6)
            return ev.TransferProgress(
                event.id, transfer.direction, event.done, event.total, event.done / elapsed
            )
        if isinstance(event, s.ImageComplete):
            self.transfers.pop(event.id, None)
            return None
        if isinstance(event, s.Acknowledged):
            self.model.apply(event)
            self.transfers.pop(event.id, None)
            self.delivered(event.id)
            return ev.Delivered(event.id)
        if isinstance(event, s.Opened):
            self.model.apply(event)
            return ev.Opened(event.id)
        if isinstance(event, s.ImageCancelled):
            self.model.apply(event)
            self.transfers.pop(event.id, None)
            if event.by_peer and event.id in self.pending_delivery:
                self.not_delivered.append(event.id)
            self.delivered(event.id)
            return ev.TransferCancelled(event.id, event.direction, by_peer=event.by_peer)
        if isinstance(event, s.PeerBye):
            self.model.apply(event)
        return None

    # ---------------------------------------------------------------- delivery
    def _expect_delivery(self, message_id: str) -> None:
        self.pending_delivery.add(message_id)
        self.all_delivered.clear()

    def delivered(self, message_id: str) -> None:
        self.pending_delivery.discard(message_id)
        if not self.pending_delivery:
            self.all_delivered.set()

    def unconfirmed(self) -> int:
        """Sent items the peer has not confirmed (yet, or ever)."""
        return len(self.pending_delivery) + len(self.not_delivered)
