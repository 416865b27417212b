"""The in-memory message model of one chat, owned by ``ChatService``.

Owns the list of messages of one chat, their delivery states (driven by the
session's events, each applied once by the service, and by the service's own
sends), the view-once lifecycle and the disappearing-message timer. Front ends
read it through ``ConversationView`` (``core.message``) and never feed it.
Pure and synchronous: the clocks are injected, nothing is written anywhere, and
no image bytes are ever kept here (they live in the view-once vault or the UI).
Two clocks: ``clock`` (the wall clock) only stamps messages for display and
export; every countdown (disappearing messages, view-once) runs on
``timer_clock``, which the service sets to ``time.monotonic`` so that a clock set
back or forward changes no deadline. The peer's ``sent_at`` is display only.

View-once rules: a received view-once photo is SEALED until it has arrived
completely; it can be opened exactly once (OPENED), and becomes VIEWED when the
viewer closes or its countdown ends; a sealed one nobody opens becomes EXPIRED
after ``view_once_timeout``. View-once items are never exportable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from p2pchat.core.errors import LocalProtocolError
from p2pchat.core.message import (
    FINAL_STATES,
    ConversationView,
    Direction,
    DisappearingTimer,
    Kind,
    Message,
    MessageState,
    ViewOnceState,
    plain_text,
)
from p2pchat.core.session import (
    Acknowledged,
    ChunkProgress,
    ImageCancelled,
    ImageComplete,
    ImageOffered,
    Opened,
    PeerBye,
    SessionEvent,
    TextReceived,
)

__all__ = [
    "DEFAULT_VIEW_ONCE_TIMEOUT",
    "Conversation",
    "ConversationView",
    "Direction",
    "DisappearingTimer",
    "Kind",
    "Message",
    "MessageState",
    "ViewOnceState",
]

# How long a received view-once photo may wait unopened (WhatsApp uses 14 days).
DEFAULT_VIEW_ONCE_TIMEOUT: Final = 14 * 24 * 3600.0


class Conversation:
    """Messages of one chat, oldest first, keyed by message id."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        timer_clock: Callable[[], float] | None = None,
        disappearing: DisappearingTimer = DisappearingTimer.OFF,
        view_once_timeout: float = DEFAULT_VIEW_ONCE_TIMEOUT,
    ) -> None:
        """``clock`` stamps messages; ``timer_clock`` (default: ``clock``, for tests that
        inject one fake) runs the countdowns: front ends pass ``time.monotonic``."""
        self._clock = clock
        self._timer_clock = timer_clock or clock
        self.disappearing = disappearing
        self.view_once_timeout = view_once_timeout
        self._messages: dict[str, Message] = {}
        # Ids the disappearing timer removed: a front end learns from here what to erase.
        self._gone: set[str] = set()

    # ------------------------------------------------------------------ queries

    def messages(self) -> list[Message]:
        return list(self._messages.values())

    def get(self, message_id: str) -> Message | None:
        return self._messages.get(message_id)

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._messages

    def is_gone(self, message_id: str) -> bool:
        """True once ``expire`` removed this message (its disappearing timer ran out)."""
        return message_id in self._gone

    # ---------------------------------------------------------- outgoing messages

    def add_outgoing_text(self, message_id: str, text: str) -> Message:
        return self._add(
            Message(message_id, "out", "text", text, self._clock(), MessageState.SENDING)
        )

    def add_outgoing_image(
        self,
        message_id: str,
        *,
        mime: str,
        width: int,
        height: int,
        size: int,
        view_once: bool = False,
        view_seconds: float = 10.0,
    ) -> Message:
        return self._add(
            Message(
                message_id,
                "out",
                "image",
                "",
                self._clock(),
                MessageState.SENDING,
                view_once=ViewOnceState.SEALED if view_once else None,
                mime=mime,
                width=width,
                height=height,
                size=size,
                view_seconds=view_seconds,
            )
        )

    def mark_sent(self, message_id: str) -> Message | None:
        """The front end handed the message's last frame to the channel."""
        message = self._messages.get(message_id)
        if (
            message is None
            or message.direction != "out"
            or message.state is not (MessageState.SENDING)
        ):
            return None
        return self._replace(message, state=MessageState.SENT)

    def mark_failed(self, message_id: str) -> Message | None:
        message = self._messages.get(message_id)
        if message is None or message.state in FINAL_STATES:
            return None
        return self._replace(message, state=MessageState.FAILED)

    # ----------------------------------------------------------- session events

    def apply(self, event: SessionEvent) -> Message | None:
        """Update the model from one session event; returns the message it touched."""
        if isinstance(event, TextReceived):
            if event.id in self._messages:
                return None  # a peer cannot overwrite an existing message
            return self._add(
                Message(
                    event.id,
                    "in",
                    "text",
                    event.text,
                    self._clock(),
                    MessageState.RECEIVED,
                    sent_at=event.sent_at,
                )
            )
        if isinstance(event, ImageOffered):
            if event.id in self._messages:
                return None
            return self._add(
                Message(
                    event.id,
                    "in",
                    "image",
                    "",
                    self._clock(),
                    MessageState.RECEIVING,
                    view_once=ViewOnceState.SEALED if event.view_once else None,
                    mime=event.mime,
                    width=event.w,
                    height=event.h,
                    size=event.size,
                    view_seconds=event.view_seconds,
                )
            )
        if isinstance(event, ChunkProgress):
            message = self._find(event.id, event.direction)
            if message is None or message.state in FINAL_STATES:
                return None
            state = message.state
            if event.direction == "out" and event.done >= event.total:
                state = MessageState.SENT
            return self._replace(message, done=event.done, state=state)
        if isinstance(event, ImageComplete):
            message = self._find(event.id, "in")
            if message is None or message.state is not MessageState.RECEIVING:
                return None
            return self._replace(
                message,
                state=MessageState.RECEIVED,
                done=message.size,
                completed_at=self._timer_clock(),
            )
        if isinstance(event, Acknowledged):
            message = self._find(event.id, "out")
            if message is None or message.state in FINAL_STATES:
                return None
            return self._replace(message, state=MessageState.DELIVERED, done=message.size)
        if isinstance(event, Opened):
            message = self._find(event.id, "out")
            if message is None or message.view_once is not ViewOnceState.SEALED:
                return None
            return self._replace(
                message, view_once=ViewOnceState.OPENED, opened_at=self._timer_clock()
            )
        if isinstance(event, ImageCancelled):
            message = self._find(event.id, event.direction)
            if message is None or message.state in FINAL_STATES:
                return None
            return self._replace(message, state=MessageState.CANCELLED)
        if isinstance(event, PeerBye):
            # Acks travel before bye: what is still unacknowledged never arrived.
            for message in self.messages():
                if message.direction == "out" and message.state in (
                    MessageState.SENDING,
                    MessageState.SENT,
                ):
                    self._replace(message, state=MessageState.FAILED)
            return None
        return None

    # -------------------------------------------------------------- view-once

    def open_view_once(self, message_id: str) -> Message:
        """Open a received view-once photo; allowed exactly once."""
        message = self._messages.get(message_id)
        if message is None or message.direction != "in" or not message.is_view_once:
            raise LocalProtocolError("that message is not a received view-once photo")
        if message.state is not MessageState.RECEIVED:
            raise LocalProtocolError("the view-once photo has not arrived completely yet")
        if message.view_once is not ViewOnceState.SEALED:
            assert message.view_once is not None
            raise LocalProtocolError(
                f"a view-once photo can be opened only once; this one is {message.view_once.value}"
            )
        return self._replace(message, view_once=ViewOnceState.OPENED, opened_at=self._timer_clock())

    def finish_view_once(self, message_id: str) -> Message:
        """The viewer closed (or its countdown ended): the photo is gone for good."""
        message = self._messages.get(message_id)
        if message is None or message.view_once is not ViewOnceState.OPENED:
            raise LocalProtocolError("that view-once photo is not open")
        return self._replace(message, view_once=ViewOnceState.VIEWED)

    # ----------------------------------------------------------------- timers

    def set_disappearing(self, timer: DisappearingTimer) -> None:
        self.disappearing = timer

    def expire_view_once(self, now: float | None = None) -> list[str]:
        """Seal the fate of overdue view-once photos; returns the ids whose state changed.

        ``now`` is a reading of the timer clock (default: read it now).
        """
        now = self._timer_clock() if now is None else now
        changed: list[str] = []
        for message in self.messages():
            if message.direction != "in":
                continue
            if (
                message.view_once is ViewOnceState.SEALED
                and message.completed_at is not None
                and now >= message.completed_at + self.view_once_timeout
            ):
                self._replace(message, view_once=ViewOnceState.EXPIRED)
                changed.append(message.id)
            elif (
                message.view_once is ViewOnceState.OPENED
                and message.opened_at is not None
                and now >= message.opened_at + message.view_seconds
            ):
                # The viewer should have closed already; never let it stay open.
                self._replace(message, view_once=ViewOnceState.VIEWED)
                changed.append(message.id)
        return changed

    def expire(self, now: float | None = None) -> list[str]:
        """Remove messages whose disappearing timer ran out; returns their ids.

        ``now`` is a reading of the timer clock (default: read it now). Also runs
        ``expire_view_once`` (call that first to learn which photos changed).
        """
        now = self._timer_clock() if now is None else now
        self.expire_view_once(now)
        removed = [
            message.id
            for message in self._messages.values()
            if message.expires_at is not None and now >= message.expires_at
        ]
        for message_id in removed:
            del self._messages[message_id]
        self._gone.update(removed)
        return removed

    def next_deadline(self) -> float | None:
        """When ``expire`` next has something to do, on the timer clock."""
        deadlines: list[float] = []
        for message in self._messages.values():
            if message.expires_at is not None:
                deadlines.append(message.expires_at)
            if message.direction != "in":
                continue
            if message.view_once is ViewOnceState.SEALED and message.completed_at is not None:
                deadlines.append(message.completed_at + self.view_once_timeout)
            elif message.view_once is ViewOnceState.OPENED and message.opened_at is not None:
                deadlines.append(message.opened_at + message.view_seconds)
        return min(deadlines, default=None)

    # ----------------------------------------------------------------- export

    def export_text(self, *, me: str = "me", peer: str = "peer") -> str:
        """A plain-text transcript; view-once photos are left out entirely."""
        lines: list[str] = []
        for message in self._messages.values():
            if not message.exportable:
                continue
            stamp = datetime.fromtimestamp(message.time, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            who = me if message.direction == "out" else peer
            if message.kind == "text":
                # Continuation lines are indented: a message cannot forge a line of its own
                # ("2026-01-01 00:00:00Z me: ...") in what is meant as evidence.
                body = plain_text(message.text).replace("\n", "\n    ")
            else:
                body = f"[photo {message.width}x{message.height}, {message.state.value}]"
            lines.append(f"{stamp} {plain_text(who)}: {body}")
        return "\n".join(lines) + ("\n" if lines else "")

    # ---------------------------------------------------------------- helpers

    def _add(self, message: Message) -> Message:
        if message.id in self._messages:
            raise LocalProtocolError(f"message {message.id} already exists")
        added_at = self._timer_clock()
        message = dataclasses.replace(message, added_at=added_at)
        if self.disappearing is not DisappearingTimer.OFF:
            message = dataclasses.replace(message, expires_at=added_at + self.disappearing.value)
        self._messages[message.id] = message
        return message

    def _find(self, message_id: str, direction: Direction) -> Message | None:
        message = self._messages.get(message_id)
        if message is None or message.direction != direction:
            return None
        return message

    def _replace(self, message: Message, **changes: object) -> Message:
        updated = dataclasses.replace(message, **changes)  # type: ignore[arg-type]
        self._messages[message.id] = updated
        return updated
