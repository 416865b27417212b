"""One chat message as the model keeps it, its states, and the read-only view of a chat.

Owns the vocabulary of ``core.conversation``: ``Message`` (frozen; never any image
bytes), ``MessageState`` (delivery), ``ViewOnceState`` (sealed, opened, viewed,
expired), ``DisappearingTimer`` and ``ConversationView``, what a front end may
read of a conversation (the service owns and updates it; front ends never do).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, Protocol

from p2pchat.core.timer import DisappearingTimer as DisappearingTimer

Direction = Literal["in", "out"]
Kind = Literal["text", "image"]


class MessageState(Enum):
    SENDING = "sending"  # queued, or image chunks still leaving
    SENT = "sent"  # handed to the channel, no ack yet
    DELIVERED = "delivered"  # the peer acknowledged it
    FAILED = "failed"  # the chat ended before the peer acknowledged it
    CANCELLED = "cancelled"  # a transfer stopped by either side
    RECEIVING = "receiving"  # an incoming image still arriving
    RECEIVED = "received"


class ViewOnceState(Enum):
    SEALED = "sealed"
    OPENED = "opened"
    VIEWED = "viewed"
    EXPIRED = "expired"


FINAL_STATES: Final = frozenset(
    {MessageState.DELIVERED, MessageState.FAILED, MessageState.CANCELLED, MessageState.RECEIVED}
)


@dataclass(frozen=True)
class Message:
    id: str
    direction: Direction
    kind: Kind
    text: str  # "" for images; for incoming text, raw peer text (a label, never markup)
    time: float  # local clock when the message was added
    state: MessageState
    view_once: ViewOnceState | None = None  # None: not a view-once photo
    sent_at: float | None = None  # the peer's clock, for incoming text
    mime: str = ""
    width: int = 0
    height: int = 0
    size: int = 0
    done: int = 0  # bytes transferred so far
    view_seconds: float = 0.0
    # Countdowns, all on the conversation's timer clock (monotonic), never the wall clock.
    expires_at: float | None = None  # disappearing-message deadline
    completed_at: float | None = None  # when an incoming image finished arriving
    opened_at: float | None = None
    added_at: float = 0.0  # when the message was added

    @property
    def is_view_once(self) -> bool:
        return self.view_once is not None

    @property
    def exportable(self) -> bool:
        return not self.is_view_once


class ConversationView(Protocol):
    """What a front end reads of a conversation (``ChatService.conversation``)."""

    @property
    def disappearing(self) -> DisappearingTimer: ...

    def messages(self) -> list[Message]: ...

    def get(self, message_id: str) -> Message | None: ...

    def __len__(self) -> int: ...

    def __contains__(self, message_id: object) -> bool: ...

    def is_gone(self, message_id: str) -> bool:
        """True once the disappearing timer removed this message."""
        ...

    def export_text(self, *, me: str = "me", peer: str = "peer") -> str: ...


class EmptyConversation:
    """A ``ConversationView`` with no messages: a chat drawn without a service behind it."""

    disappearing = DisappearingTimer.OFF

    def messages(self) -> list[Message]:
        return []

    def get(self, message_id: str) -> Message | None:
        return None

    def __len__(self) -> int:
        return 0

    def __contains__(self, message_id: object) -> bool:
        return False

    def is_gone(self, message_id: str) -> bool:
        return False

    def export_text(self, *, me: str = "me", peer: str = "peer") -> str:
        return ""


_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs"})


def plain_text(text: str) -> str:
    """Drop controls (terminal escapes) and format characters (bidi tricks), keep \\n and \\t."""
    return "".join(
        char
        for char in text
        if char in "\n\t" or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
