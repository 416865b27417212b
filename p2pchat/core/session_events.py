"""What a session reports through ``Session.events()``: one frozen dataclass per happening.

Peer-provided strings in these events are raw labels: front ends sanitise them
before showing them, and never treat them as markup or paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class SessionEvent:
    """Something the peer did, or progress of one of our transfers."""


@dataclass(frozen=True)
class TextReceived(SessionEvent):
    id: str
    text: str  # raw peer text: a label for the UI to sanitise, never markup or a path
    sent_at: float


@dataclass(frozen=True)
class ImageOffered(SessionEvent):
    id: str
    size: int
    mime: str
    w: int
    h: int
    view_once: bool
    view_seconds: float


@dataclass(frozen=True)
class ChunkProgress(SessionEvent):
    id: str
    direction: Direction
    done: int  # bytes
    total: int  # bytes


@dataclass(frozen=True)
class ImageComplete(SessionEvent):
    """A complete, verified image.

    ``data`` is ``bytes`` for an ordinary image. For a view-once image it is the
    session's own reassembly ``bytearray``, handed over without a copy: the
    receiver owns it from here on and must overwrite it when done (the vault does).
    """

    id: str
    data: bytes | bytearray = field(repr=False)
    mime: str
    w: int
    h: int
    view_once: bool
    view_seconds: float


@dataclass(frozen=True)
class Acknowledged(SessionEvent):
    id: str


@dataclass(frozen=True)
class Opened(SessionEvent):
    id: str


@dataclass(frozen=True)
class TypingReceived(SessionEvent):
    pass


@dataclass(frozen=True)
class PongReceived(SessionEvent):
    rtt: float


@dataclass(frozen=True)
class TimerChanged(SessionEvent):
    """The peer set the disappearing-message timer (0: off); apply it to new messages."""

    seconds: int


@dataclass(frozen=True)
class PeerBye(SessionEvent):
    reason: str = ""  # the peer's own words for why it ended, when it gave any


@dataclass(frozen=True)
class ImageCancelled(SessionEvent):
    id: str
    by_peer: bool
    direction: Direction
