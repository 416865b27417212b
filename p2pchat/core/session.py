"""The encrypted chat session: a sans-I/O protocol object (h11 style).

Owns what the frames of ``framing.py`` mean once pairing has produced
``SessionKeys``: per channel one secretstream per direction, the order in which
outgoing frames leave, image chunking and reassembly with every limit checked
before anything is allocated, acknowledgements, pings, cancellation, and the
session state machine (driven by ONE transition table, ``session_state.TRANSITIONS``).
The events it reports live in ``session_events`` (re-exported here), the image
buffers in ``image_buffers``; the fields and shared helpers in ``session_core``,
the receiving half in ``session_receive``; sending and the commands are here.

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

from p2pchat.core import framing as fr
from p2pchat.core.errors import ImageRejected, LocalProtocolError
from p2pchat.core.image_buffers import OutgoingImage, release, wipe
from p2pchat.core.keys import Channel
from p2pchat.core.session_core import MAX_OUTSTANDING_PINGS, Sent
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
from p2pchat.core.session_receive import SessionReceiving
from p2pchat.core.session_state import SessionState, Trigger


class Session(SessionReceiving):
    """One paired, encrypted conversation over the CONTROL and DATA channels."""

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
            self._awaiting_ack[header.id] = Sent.VIEW_ONCE_IMAGE if header.view_once else Sent.IMAGE
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
        self._ids_used.add(frame.id)
        self._awaiting_ack[frame.id] = Sent.TEXT
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
        self._ids_used.add(header.id)
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
