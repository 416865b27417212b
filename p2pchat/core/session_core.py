"""The state of a chat session and the helpers both of its halves share.

``SessionCore`` holds what one ``session.Session`` knows (its keys and limits,
the per-channel secretstreams, the queue of outgoing frames, images on their
way in and out, what waits for an ack) and the helpers that keep the state
machine (``session_state``) and every buffer's wiping in one place. Receiving
is added by ``session_receive``, sending and the commands by ``session``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Final

from p2pchat.core import framing as fr
from p2pchat.core.crypto import STREAM_OVERHEAD, StreamReceiver, StreamSender
from p2pchat.core.errors import LocalProtocolError
from p2pchat.core.image_buffers import IncomingImage, OutgoingImage, release, wipe
from p2pchat.core.keys import Channel, Limits, SessionKeys
from p2pchat.core.session_events import ImageCancelled, SessionEvent
from p2pchat.core.session_state import SessionState, Trigger, next_state

RandomSource = Callable[[int], bytes]
Clock = Callable[[], float]

MAX_CIPHERTEXT_BYTES: Final = fr.MAX_FRAME_BYTES + STREAM_OVERHEAD
# Pings older than this many outstanding ones are forgotten (their pong is ignored).
MAX_OUTSTANDING_PINGS: Final = 16


PendingItem = bytes | fr.Frame  # bytes: a raw stream header


class Sent(Enum):
    """What an id awaiting the peer's ack stands for."""

    TEXT = "text"
    IMAGE = "image"
    VIEW_ONCE_IMAGE = "view_once_image"


class SessionCore:
    """Fields and shared helpers of ``Session`` (see the module docstring)."""

    def __init__(
        self,
        keys: SessionKeys,
        *,
        limits: Limits | None = None,
        clock: Clock = time.time,
        random: RandomSource = os.urandom,
        hold_image_acks: bool = False,
        hold_text_acks: bool = False,
    ) -> None:
        """``hold_image_acks``: a complete (not view-once) photo is acknowledged only
        when ``acknowledge`` says it was kept, or refused with ``refuse_image``; the
        sender's "delivered" then means "saved", not merely "arrived".
        ``hold_text_acks``: likewise a text, once the front end showed or wrote it."""
        for channel in Channel:
            if channel not in keys.send_keys or channel not in keys.recv_keys:
                raise LocalProtocolError(f"session keys are missing channel {channel.name}")
        self._keys = keys
        self._limits = limits or Limits()
        self._clock = clock
        self._random = random
        self._state = SessionState.OPEN
        self._senders = {channel: StreamSender(keys.send_keys[channel]) for channel in Channel}
        self._receivers: dict[Channel, StreamReceiver] = {}
        self._hello_seen: set[Channel] = set()
        self._events: list[SessionEvent] = []
        self._pending: deque[tuple[Channel, PendingItem]] = deque()
        self._images_out: deque[OutgoingImage] = deque()
        self._images_in: dict[str, IncomingImage] = {}
        self._awaiting_ack: dict[str, Sent] = {}
        self._awaiting_opened: set[str] = set()
        self._openable: set[str] = set()  # complete view-once images we received
        self._cancelled_out: set[str] = set()
        self._cancelled_in: set[str] = set()
        # Every message id of this session, ours and the peer's: an id names one
        # message, so a peer that reuses one is refused rather than shown twice.
        self._ids_used: set[str] = set()
        self._pings: dict[bytes, float] = {}
        self._hold_image_acks = hold_image_acks
        self._hold_text_acks = hold_text_acks
        self._held_acks: set[str] = set()
        for channel in Channel:
            self._pending.append((channel, self._senders[channel].header))
            self._pending.append((channel, fr.Hello()))

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def incoming_buffer_bytes(self) -> int:
        """Bytes currently allocated for images being received."""
        return sum(len(image.buffer) for image in self._images_in.values())

    @property
    def outgoing_image_bytes(self) -> int:
        """Bytes of outgoing images the session still holds."""
        return sum(len(image.data or b"") for image in self._images_out)

    def events(self) -> list[SessionEvent]:
        """Everything that happened since the last call, oldest first."""
        drained, self._events = self._events, []
        return drained

    # ------------------------------------------------------------------- helpers

    def _reply(self, frame: fr.Frame) -> None:
        """Queue an automatic answer (ack, pong) while our CONTROL stream is still open."""
        if self._state is SessionState.OPEN:
            self._pending.append((Channel.CONTROL, frame))

    def _drop_transfers(self, *, by_peer: bool) -> None:
        for image_id, incoming in list(self._images_in.items()):
            wipe(incoming.buffer)
            self._cancelled_in.add(image_id)
            self._events.append(ImageCancelled(image_id, by_peer=by_peer, direction="in"))
        self._images_in.clear()
        for outgoing in self._images_out:
            release(outgoing)
            self._cancelled_out.add(outgoing.header.id)
            self._events.append(
                ImageCancelled(outgoing.header.id, by_peer=by_peer, direction="out")
            )
        self._images_out.clear()
        if by_peer:
            # Acks travel on CONTROL before bye: an image still unacknowledged now never
            # arrived.
            for image_id, sent in list(self._awaiting_ack.items()):
                if sent is not Sent.TEXT:
                    del self._awaiting_ack[image_id]
                    self._cancelled_out.add(image_id)
                    self._events.append(ImageCancelled(image_id, by_peer=True, direction="out"))

    def _transition(self, trigger: Trigger) -> None:
        self._state = next_state(self._state, trigger)

    def _fail(self) -> None:
        """Enter ERROR for good: wipe every buffer, send nothing more."""
        for incoming in self._images_in.values():
            wipe(incoming.buffer)
        self._images_in.clear()
        for outgoing in self._images_out:
            release(outgoing)
        self._images_out.clear()
        self._pending.clear()
        self._openable.clear()
        if self._state is not SessionState.ERROR:
            self._transition(Trigger.FAIL)

    def _require_not_failed(self) -> None:
        if self._state is SessionState.ERROR:
            raise LocalProtocolError(
                "this session failed earlier (the peer broke the protocol or data was "
                "tampered with); start a new one"
            )

    def _require_open(self, action: str) -> None:
        self._require_not_failed()
        if self._state is not SessionState.OPEN:
            reason = {
                SessionState.CLOSING: "the chat is closing",
                SessionState.PEER_CLOSED: "the peer has left the chat",
            }.get(self._state, "the chat is closed")
            raise LocalProtocolError(f"cannot {action}: {reason}")
