"""The data-channel frame types: their dataclasses, ids, sizes and limits.

One frame is one msgpack map ``{"t": type, ...}`` (DESIGN.md section 4). This
module owns what a frame *is* (its fields and the numbers that bound them);
``framing.py`` owns turning frames into bytes and back, strictly, and
``session.py`` what the frames mean. Split from ``framing.py`` so that neither
half grows past what one reader keeps in mind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from p2pchat.core.timer import MAX_TIMER_SECONDS as MAX_TIMER_SECONDS
from p2pchat.core.timer import TIMER_SECONDS as TIMER_SECONDS

# 60 KiB of image data per chunk keeps every ciphertext under 64 KiB, the largest
# message every aiortc version delivers in one piece.
CHUNK_SIZE: Final = 60 * 1024
# Room for the map keys, the id and the seq around a full chunk.
MAX_FRAME_BYTES: Final = CHUNK_SIZE + 1024
# The most any image header may declare, whatever the receiver's own limit is.
MAX_IMAGE_BYTES: Final = 1 << 31
MAX_CHUNKS: Final = -(-MAX_IMAGE_BYTES // CHUNK_SIZE)
MAX_IMAGE_SIDE: Final = 65535
MAX_VIEW_SECONDS: Final = 600.0
MIN_VIEW_SECONDS: Final = 1.0
ALLOWED_MIMES: Final = frozenset({"image/jpeg", "image/png"})
SHA256_SIZE: Final = 32
NONCE_SIZE: Final = 8
ID_BYTES: Final = 8
ID_HEX_CHARS: Final = 2 * ID_BYTES
# The disappearing-message timers people can agree on: off, 30 s, 5 min, 1 h, 1 day.

_ID_PATTERN: Final = re.compile(r"[0-9a-f]{%d}" % ID_HEX_CHARS)  # noqa: UP031 - regex braces


def new_id(random: Callable[[int], bytes]) -> str:
    """A fresh message id: short random lowercase hex."""
    return random(ID_BYTES).hex()


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None


def chunk_count(size: int) -> int:
    """How many chunks carry an image of ``size`` bytes (every chunk full but the last)."""
    return -(-size // CHUNK_SIZE)


def chunk_length(size: int, seq: int) -> int:
    """The exact length chunk ``seq`` of an image of ``size`` bytes must have."""
    return min(CHUNK_SIZE, size - seq * CHUNK_SIZE)


@dataclass(frozen=True)
class Hello:
    """The first frame on each channel: proves the peer holds the matching key."""

    TYPE: ClassVar[str] = "hello"


@dataclass(frozen=True)
class Text:
    TYPE: ClassVar[str] = "text"
    id: str
    text: str
    sent_at: float


@dataclass(frozen=True)
class ImageHeader:
    """Announces one image; its chunks follow on the DATA channel."""

    TYPE: ClassVar[str] = "img"
    id: str
    size: int
    sha256: bytes
    mime: str
    w: int
    h: int
    n: int
    view_once: bool
    view_seconds: float


@dataclass(frozen=True)
class Chunk:
    TYPE: ClassVar[str] = "chunk"
    id: str
    seq: int
    d: bytes


@dataclass(frozen=True)
class Ack:
    """The peer received a text, or a complete image that passed its checks."""

    TYPE: ClassVar[str] = "ack"
    id: str


@dataclass(frozen=True)
class Opened:
    """The peer opened (and closed) a view-once image."""

    TYPE: ClassVar[str] = "opened"
    id: str


@dataclass(frozen=True)
class Typing:
    TYPE: ClassVar[str] = "typing"


@dataclass(frozen=True)
class Ping:
    TYPE: ClassVar[str] = "ping"
    nonce: bytes


@dataclass(frozen=True)
class Pong:
    TYPE: ClassVar[str] = "pong"
    nonce: bytes


@dataclass(frozen=True)
class Bye:
    TYPE: ClassVar[str] = "bye"
    # Why the sender ends the session, when it is not a plain goodbye (it could not
    # keep this contact, ...). Left off the wire when empty, so a plain bye is unchanged.
    reason: str = ""


@dataclass(frozen=True)
class Cancel:
    TYPE: ClassVar[str] = "cancel"
    id: str


@dataclass(frozen=True)
class Timer:
    """Either side sets the conversation's disappearing-message timer; both apply it."""

    TYPE: ClassVar[str] = "timer"
    seconds: int


Frame = (
    Hello | Text | ImageHeader | Chunk | Ack | Opened | Typing | Ping | Pong | Bye | Cancel | Timer
)
