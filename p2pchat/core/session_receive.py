"""The receiving half of a chat session: frames in, checked, turned into events.

``SessionReceiving`` decrypts what arrives on each channel (the stream header
first, then ``hello``), and turns each frame into state and events: texts and
their acks, image offers and chunks (every limit checked before anything is
allocated, the hash checked before an image is reported), receipts, pings,
cancels and the peer's bye. A protocol violation or a failed decryption is fatal:
the session enters ERROR, wipes every buffer, and the error propagates.
"""

from __future__ import annotations

import hmac

from p2pchat.core import framing as fr
from p2pchat.core.crypto import StreamReceiver
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.image_buffers import IncomingImage, release, wipe
from p2pchat.core.keys import Channel
from p2pchat.core.session_core import MAX_CIPHERTEXT_BYTES, Sent, SessionCore
from p2pchat.core.session_events import (
    Acknowledged,
    ChunkProgress,
    ImageCancelled,
    ImageComplete,
    ImageOffered,
    Opened,
    PeerBye,
    PongReceived,
    TextReceived,
    TimerChanged,
    TypingReceived,
)
from p2pchat.core.session_state import SessionState, Trigger


class SessionReceiving(SessionCore):
    """What a session does with the bytes the peer sent (see the module docstring)."""

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
            self._claim_peer_id(frame.id)
            self._events.append(TextReceived(frame.id, frame.text, frame.sent_at))
            if self._hold_text_acks:
                self._held_acks.add(frame.id)
            else:
                self._reply(fr.Ack(frame.id))
        elif isinstance(frame, fr.Ack):
            if frame.id in self._awaiting_ack:
                if self._awaiting_ack.pop(frame.id) is Sent.VIEW_ONCE_IMAGE:
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
            if self._awaiting_ack.get(image_id, Sent.TEXT) is Sent.TEXT:
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

    def _claim_peer_id(self, message_id: str) -> None:
        if message_id in self._ids_used:
            raise RemoteProtocolError("the peer reused a message id: one id names one message")
        self._ids_used.add(message_id)

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
        self._claim_peer_id(header.id)
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
