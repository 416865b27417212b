"""Images in transit inside a session: their buffers, and overwriting them when done.

A view-once photo's bytes must not linger: outgoing ones are held in a
``bytearray`` and wiped once sent or cancelled, incoming ones are reassembled in
a buffer preallocated at the checked size (no growth, no stray copies).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from p2pchat.core import framing as fr


@dataclass
class OutgoingImage:
    """An image we are sending: its header and the session's copy of its bytes."""

    header: fr.ImageHeader
    # A view-once photo is held in a bytearray so it can be overwritten once sent.
    data: bytes | bytearray | None
    next_seq: int = 0
    header_sent: bool = False


@dataclass
class IncomingImage:
    """An image the peer is sending, reassembled in place."""

    header: fr.ImageHeader
    # Preallocated at the declared (checked) size and filled in place: growing it
    # would leave unwiped copies of view-once bytes behind in freed memory.
    buffer: bytearray
    next_seq: int = 0
    received: int = 0
    # Chunks arrive in order, so the digest grows with them: no single pass over a
    # 20 MB buffer at the end, which would stall the caller's event loop.
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


def wipe(buffer: bytearray) -> None:
    """Overwrite in place, then release."""
    zeros = bytes(min(len(buffer), fr.CHUNK_SIZE))
    for offset in range(0, len(buffer), fr.CHUNK_SIZE):
        end = min(offset + fr.CHUNK_SIZE, len(buffer))
        buffer[offset:end] = zeros[: end - offset]
    buffer.clear()


def release(image: OutgoingImage) -> None:
    """Drop the session's copy of an outgoing image, overwriting it if it is view-once."""
    if isinstance(image.data, bytearray):
        wipe(image.data)
    image.data = None
