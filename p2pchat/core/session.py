"""The encrypted chat session: a sans-I/O protocol object (h11 style).

Owns what the frames of ``framing.py`` mean once pairing has produced
``SessionKeys``: per channel one secretstream per direction, the order in which
outgoing frames leave, image chunking and reassembly with every limit checked
before anything is allocated, acknowledgements, pings, cancellation, and the
session state machine (driven by ONE transition table, ``session_state.TRANSITIONS``).
The events it reports live in ``session_events`` (re-exported here), the image
buffers in ``image_buffers``.

Bytes go in through ``receive_data(channel, data)``, bytes come out of
``next_frame()``, and what happened comes out of ``events()``. No I/O, no clock
but the injected one, no randomness but the injected one.

Wire rules beyond DESIGN.md section 4:
- the first message on each channel is the raw 24-byte stream header, the
  first encrypted frame is ``hello`` (so a key mismatch shows at once);
- text, acks, pings, ``opened``, ``typing``, ``bye`` and the receiver's
  ``cancel`` travel on CONTROL; image headers, chunks and the *sender's*
  ``cancel`` travel on DATA, so a cancel is ordered with the chunks it stops;
- images are sent one after the other: the header of an image is pulled only
  when its predecessor is finished, so a new header while an image is still
  incomplete means chunks went missing;
- ``bye`` is the final message (secretstream TAG_FINAL) of the CONTROL stream.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Final

from p2pchat.core import framing as fr
from p2pchat.core.crypto import STREAM_OVERHEAD, StreamReceiver, StreamSender
from p2pchat.core.errors import (
    ImageRejected,
    LocalProtocolError,
    RemoteProtocolError,
)
from p2pchat.core.image_buffers import IncomingImage, OutgoingImage, release, wipe
from p2pchat.core.keys import Channel, Limits, SessionKeys
from p2pchat.core.session_events import (
    Acknowledged,
    ChunkProgress,
    Direction,
    ImageCancelled,
    ImageComplete,
    ImageOffered,
    Opened,
    PeerBye,
    PongReceived,
    SessionEvent,
    TextReceived,
    TimerChanged,
    TypingReceived,
)
from p2pchat.core.session_state import SessionState, Trigger, next_state

RandomSource = Callable[[int], bytes]
Clock = Callable[[], float]

MAX_CIPHERTEXT_BYTES: Final = fr.MAX_FRAME_BYTES + STREAM_OVERHEAD
# Pings older than this many outstanding ones are forgotten (their pong is ignored).
MAX_OUTSTANDING_PINGS: Final = 16


_PendingItem = bytes | fr.Frame  # bytes: a raw stream header


class _Sent(Enum):
    """What an id awaiting the peer's ack stands for."""

    TEXT = "text"
    IMAGE = "image"
    VIEW_ONCE_IMAGE = "view_once_image"


class Session:
    """One paired, encrypted conversation over the CONTROL and DATA channels."""

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
        self._pending: deque[tuple[Channel, _PendingItem]] = deque()
        self._images_out: deque[OutgoingImage] = deque()
        self._images_in: dict[str, IncomingImage] = {}
        self._awaiting_ack: dict[str, _Sent] = {}
        self._awaiting_opened: set[str] = set()
        self._openable: set[str] = set()  # complete view-once images we received
        self._cancelled_out: set[str] = set()
        self._cancelled_in: set[str] = set()
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

    # -------------------------------------------------------------------- output

    def next_frame(self) -> tuple[Channel, bytes] | None:
        """The next message to put on a channel, or None when there is nothing to send.

        Control frames always leave before image data, and chunks are encrypted
        only when pulled, so a text queued during a transfer overtakes the rest.
        """
        if self._state is SessionState.ERROR:
            return None
        if self._pending:
            channel, item = self._pending.popleft()
            if isinstance(item, bytes):
                return channel, item
            return channel, self._seal(channel, item)
        if self._state is not SessionState.OPEN or not self._images_out:
            return None
        image = self._images_out[0]
        if not image.header_sent:
            image.header_sent = True
            return Channel.DATA, self._seal(Channel.DATA, image.header)
        assert image.data is not None
        header = image.header
        seq = image.next_seq
        start = seq * fr.CHUNK_SIZE
        piece = bytes(image.data[start : start + fr.chunk_length(header.size, seq)])
        image.next_seq += 1
        if image.next_seq == header.n:
            # The bytes are all on their way: keep no copy of them any longer.
            self._images_out.popleft()
            release(image)
            self._awaiting_ack[header.id] = (
                _Sent.VIEW_ONCE_IMAGE if header.view_once else _Sent.IMAGE
            )
        self._events.append(ChunkProgress(header.id, "out", start + len(piece), header.size))
        return Channel.DATA, self._seal(Channel.DATA, fr.Chunk(header.id, seq, piece))

    def _seal(self, channel: Channel, frame: fr.Frame) -> bytes:
        return self._senders[channel].push(fr.encode_frame(frame), final=isinstance(frame, fr.Bye))

    # ------------------------------------------------------------------ commands

    def send_text(self, text: str) -> str:
        self._require_open("send a message")
        if not text:
            raise LocalProtocolError("an empty message cannot be sent")
        peer_limit = self._keys.peer_capabilities.max_text_chars
        if len(text) > peer_limit:
            raise LocalProtocolError(
                f"the message has {len(text)} characters; the peer accepts at most {peer_limit}"
            )
        frame = fr.Text(fr.new_id(self._random), text, self._clock())
        if len(fr.encode_frame(frame)) > fr.MAX_FRAME_BYTES:
            raise LocalProtocolError("the message is too long to send in one piece; split it")
        self._pending.append((Channel.CONTROL, frame))
        self._awaiting_ack[frame.id] = _Sent.TEXT
        return frame.id

    def send_image(
        self,
        data: bytes,
        mime: str,
        w: int,
        h: int,
        view_once: bool = False,
        view_seconds: float = 10,
        sha256: bytes | None = None,
    ) -> str:
        """Queue an (already sanitised) image; returns its message id.

        ``sha256`` lets a caller hash a large image off its event loop; when given it
        must be the digest of ``data`` (the peer checks it).
        """
        self._require_open("send a photo")
        if not data:
            raise ImageRejected("the photo is empty")
        peer_limit = min(self._keys.peer_capabilities.max_image_bytes, fr.MAX_IMAGE_BYTES)
        if len(data) > peer_limit:
            raise ImageRejected(
                f"the photo is {len(data)} bytes; the peer accepts at most {peer_limit} bytes. "
                "Send it downscaled."
            )
        if view_once and not self._keys.peer_capabilities.view_once:
            raise LocalProtocolError(
                "the peer's client does not honour view-once photos; send it normally or not at all"
            )
        # A view-once photo gets a private bytearray the session wipes after the last chunk.
        payload: bytes | bytearray = bytearray(data) if view_once else bytes(data)
        header = fr.ImageHeader(
            id=fr.new_id(self._random),
            size=len(payload),
            sha256=sha256 if sha256 is not None else hashlib.sha256(payload).digest(),
            mime=mime,
            w=w,
            h=h,
            n=fr.chunk_count(len(payload)),
            view_once=view_once,
            view_seconds=float(view_seconds),
        )
        fr.encode_frame(header)  # validates mime, sides and view time now, not at pull time
        self._images_out.append(OutgoingImage(header, payload))
        return header.id

    def cancel_image(self, image_id: str) -> bool:
        """Stop a transfer in either direction; False if there is none (or it is too late)."""
        self._require_not_failed()
        incoming = self._images_in.pop(image_id, None)
        if incoming is not None:
            wipe(incoming.buffer)
            self._cancelled_in.add(image_id)
            if self._state is SessionState.OPEN:
                self._pending.append((Channel.CONTROL, fr.Cancel(image_id)))
            self._events.append(ImageCancelled(image_id, by_peer=False, direction="in"))
            return True
        for outgoing in self._images_out:
            if outgoing.header.id == image_id:
                self._images_out.remove(outgoing)
                release(outgoing)
                self._cancelled_out.add(image_id)
                if outgoing.header_sent:
                    # On DATA, behind the chunks already sent, so the peer frees its buffer
                    # before the next image header arrives.
                    self._pending.append((Channel.DATA, fr.Cancel(image_id)))
                self._events.append(ImageCancelled(image_id, by_peer=False, direction="out"))
                return True
        return False

    def acknowledge(self, message_id: str) -> None:
        """Acknowledge a held photo or text: it was kept (see ``hold_image_acks``)."""
        if message_id in self._held_acks:
            self._held_acks.discard(message_id)
            self._reply(fr.Ack(message_id))

    def refuse_image(self, image_id: str) -> None:
        """Tell the sender a held photo arrived but was not kept (its transfer is cancelled)."""
        if image_id in self._held_acks:
            self._held_acks.discard(image_id)
            self._cancelled_in.add(image_id)
            self._reply(fr.Cancel(image_id))

    def send_opened(self, image_id: str) -> None:
        """Tell the peer we opened (and closed) the view-once image ``image_id``."""
        self._require_open("send a view-once receipt")
        if image_id not in self._openable:
            raise LocalProtocolError(
                "that message is not a received view-once photo that is still unopened"
            )
        self._openable.discard(image_id)
        self._pending.append((Channel.CONTROL, fr.Opened(image_id)))

    def send_typing(self) -> None:
        self._require_open("send a typing notice")
        self._pending.append((Channel.CONTROL, fr.Typing()))

    def send_timer(self, seconds: int) -> None:
        """Set the conversation's disappearing-message timer for both sides (0: off)."""
        self._require_open("change the disappearing-message timer")
        if seconds not in fr.TIMER_SECONDS:
            choices = ", ".join(str(s) for s in sorted(fr.TIMER_SECONDS))
            raise LocalProtocolError(f"the timer must be one of {choices} seconds")
        self._pending.append((Channel.CONTROL, fr.Timer(seconds)))

    def send_ping(self) -> None:
        self._require_open("send a ping")
        nonce = self._random(fr.NONCE_SIZE)
        self._pings[nonce] = self._clock()
        while len(self._pings) > MAX_OUTSTANDING_PINGS:
            del self._pings[next(iter(self._pings))]
        self._pending.append((Channel.CONTROL, fr.Ping(nonce)))

    def close(self, reason: str = "") -> None:
        """Say goodbye: queue ``bye`` (with ``reason``, if any) as the final CONTROL frame.

        Idempotent."""
        self._require_not_failed()
        if self._state in (SessionState.CLOSING, SessionState.CLOSED):
            return
        self._drop_transfers(by_peer=False)
        self._pending.append((Channel.CONTROL, fr.Bye(reason)))
        self._transition(Trigger.SEND_BYE)

    # --------------------------------------------------------------------- input

    def receive_data(self, channel: Channel, data: bytes) -> None:
        """Feed one message received on ``channel``.

        Raises RemoteProtocolError (or its subclass DecryptError) when the peer or
        the path broke the protocol; the session is then ERROR for good.
        """
        self._require_not_failed()
        try:
            channel = Channel(channel)
        except ValueError as exc:
            raise LocalProtocolError(f"there is no channel {channel!r}") from exc
        try:
            self._receive(channel, bytes(data))
        except RemoteProtocolError:
            self._fail()
            raise

    def _receive(self, channel: Channel, data: bytes) -> None:
        receiver = self._receivers.get(channel)
        if receiver is None:
            self._receivers[channel] = StreamReceiver(self._keys.recv_keys[channel], data)
            return
        if len(data) > MAX_CIPHERTEXT_BYTES:
            raise RemoteProtocolError(
                f"the peer sent a message of {len(data)} bytes; the limit is {MAX_CIPHERTEXT_BYTES}"
            )
        frame = fr.decode_frame(receiver.pull(data))
        if channel not in self._hello_seen:
            if not isinstance(frame, fr.Hello) or receiver.finished:
                raise RemoteProtocolError(
                    f"the peer's first frame on the {channel.name} channel was not 'hello'"
                )
            self._hello_seen.add(channel)
            return
        if isinstance(frame, fr.Hello):
            raise RemoteProtocolError("the peer sent 'hello' twice")
        if receiver.finished != isinstance(frame, fr.Bye):
            raise RemoteProtocolError("the peer ended a stream without 'bye', or said 'bye' early")
        if channel is Channel.CONTROL:
            self._receive_control(frame)
        else:
            self._receive_data_frame(frame)

    def _receive_control(self, frame: fr.Frame) -> None:
        if isinstance(frame, fr.Text):
            if len(frame.text) > self._limits.max_text_chars or not frame.text:
                raise RemoteProtocolError(
                    f"the peer sent a message of {len(frame.text)} characters; "
                    f"1..{self._limits.max_text_chars} are accepted"
                )
            self._events.append(TextReceived(frame.id, frame.text, frame.sent_at))
            if self._hold_text_acks:
                self._held_acks.add(frame.id)
            else:
                self._reply(fr.Ack(frame.id))
        elif isinstance(frame, fr.Ack):
            if frame.id in self._awaiting_ack:
                if self._awaiting_ack.pop(frame.id) is _Sent.VIEW_ONCE_IMAGE:
                    self._awaiting_opened.add(frame.id)
                self._events.append(Acknowledged(frame.id))
            elif frame.id not in self._cancelled_out:
                raise RemoteProtocolError("the peer acknowledged a message we never sent")
        elif isinstance(frame, fr.Opened):
            if frame.id in self._awaiting_opened:
                self._awaiting_opened.discard(frame.id)
                self._events.append(Opened(frame.id))
            elif frame.id not in self._cancelled_out:
                raise RemoteProtocolError(
                    "the peer reported opening a view-once photo it never received"
                )
        elif isinstance(frame, fr.Typing):
            self._events.append(TypingReceived())
        elif isinstance(frame, fr.Ping):
            self._reply(fr.Pong(frame.nonce))
        elif isinstance(frame, fr.Pong):
            sent_at = self._pings.pop(frame.nonce, None)
            # A pong we no longer wait for carries no information; ignoring it is safe.
            if sent_at is not None:
                self._events.append(PongReceived(max(0.0, self._clock() - sent_at)))
        elif isinstance(frame, fr.Cancel):
            self._peer_cancelled_outgoing(frame.id)
        elif isinstance(frame, fr.Timer):
            self._events.append(TimerChanged(frame.seconds))
        elif isinstance(frame, fr.Bye):
            self._drop_transfers(by_peer=True)
            self._transition(Trigger.RECV_BYE)
            self._events.append(PeerBye(frame.reason))
        else:
            raise RemoteProtocolError(
                f"the peer sent a '{frame.TYPE}' frame on the control channel"
            )

    def _peer_cancelled_outgoing(self, image_id: str) -> None:
        for outgoing in self._images_out:
            if outgoing.header.id == image_id:
                self._images_out.remove(outgoing)
                release(outgoing)
                break
        else:
            if self._awaiting_ack.get(image_id, _Sent.TEXT) is _Sent.TEXT:
                return  # already finished or cancelled: the cancel crossed our last chunk
            del self._awaiting_ack[image_id]
        self._cancelled_out.add(image_id)
        self._events.append(ImageCancelled(image_id, by_peer=True, direction="out"))

    def _receive_data_frame(self, frame: fr.Frame) -> None:
        if self._state is not SessionState.OPEN:
            return  # authenticated, but one of us is leaving: late image data means nothing
        if isinstance(frame, fr.ImageHeader):
            self._offer_received(frame)
        elif isinstance(frame, fr.Chunk):
            self._chunk_received(frame)
        elif isinstance(frame, fr.Cancel):
            incoming = self._images_in.pop(frame.id, None)
            if incoming is not None:
                wipe(incoming.buffer)
                self._cancelled_in.add(frame.id)
                self._events.append(ImageCancelled(frame.id, by_peer=True, direction="in"))
        else:
            raise RemoteProtocolError(f"the peer sent a '{frame.TYPE}' frame on the data channel")

    def _offer_received(self, header: fr.ImageHeader) -> None:
        if self._images_in:
            incoming = next(iter(self._images_in.values()))
            raise RemoteProtocolError(
                f"the peer started a new photo while photo {incoming.header.id} had "
                f"{incoming.next_seq} of {incoming.header.n} chunks: data went missing"
            )
        if len(self._images_in) >= self._limits.max_images_in_flight:
            raise RemoteProtocolError("the peer sent more photos at once than are accepted")
        if header.id in self._cancelled_in:
            raise RemoteProtocolError("the peer reused the id of a cancelled photo")
        # Checked before anything is allocated for it.
        if header.size > self._limits.max_image_bytes:
            raise RemoteProtocolError(
                f"the peer offered a photo of {header.size} bytes; at most "
                f"{self._limits.max_image_bytes} are accepted"
            )
        if max(header.w, header.h) > self._limits.max_image_side:
            raise RemoteProtocolError(
                f"the peer offered a {header.w}x{header.h} photo; sides up to "
                f"{self._limits.max_image_side} pixels are accepted"
            )
        self._images_in[header.id] = IncomingImage(header, bytearray(header.size))
        self._events.append(
            ImageOffered(
                header.id,
                header.size,
                header.mime,
                header.w,
                header.h,
                header.view_once,
                header.view_seconds,
            )
        )

    def _chunk_received(self, chunk: fr.Chunk) -> None:
        if chunk.id in self._cancelled_in:
            return  # sent before our cancel reached the peer
        incoming = self._images_in.get(chunk.id)
        if incoming is None:
            raise RemoteProtocolError("the peer sent image data for a photo it never offered")
        header = incoming.header
        if chunk.seq != incoming.next_seq:
            raise RemoteProtocolError(
                f"the peer sent chunk {chunk.seq} of photo {header.id} where chunk "
                f"{incoming.next_seq} was due"
            )
        expected = fr.chunk_length(header.size, chunk.seq)
        if len(chunk.d) != expected:
            raise RemoteProtocolError(
                f"chunk {chunk.seq} of photo {header.id} has {len(chunk.d)} bytes; "
                f"{expected} were due"
            )
        start = chunk.seq * fr.CHUNK_SIZE
        incoming.buffer[start : start + expected] = chunk.d
        incoming.digest.update(chunk.d)
        incoming.next_seq += 1
        incoming.received += expected
        self._events.append(ChunkProgress(header.id, "in", incoming.received, header.size))
        if incoming.next_seq < header.n:
            return
        if not hmac.compare_digest(incoming.digest.digest(), header.sha256):
            raise RemoteProtocolError(
                f"photo {header.id} arrived complete but its SHA-256 does not match"
            )
        del self._images_in[header.id]
        data: bytes | bytearray
        if header.view_once:
            # No copy: the receiver's vault takes this very buffer and wipes it.
            data = incoming.buffer
            self._openable.add(header.id)
        else:
            data = bytes(incoming.buffer)
            wipe(incoming.buffer)
        if self._hold_image_acks and not header.view_once:
            self._held_acks.add(header.id)
        else:
            self._reply(fr.Ack(header.id))
        self._events.append(
            ImageComplete(
                header.id,
                data,
                header.mime,
                header.w,
                header.h,
                header.view_once,
                header.view_seconds,
            )
        )

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
                if sent is not _Sent.TEXT:
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


__all__ = [
    "Acknowledged",
    "ChunkProgress",
    "Direction",
    "ImageCancelled",
    "ImageComplete",
    "ImageOffered",
    "Opened",
    "PeerBye",
    "PongReceived",
    "Session",
    "SessionEvent",
    "SessionState",
    "TextReceived",
    "TimerChanged",
    "TypingReceived",
]
