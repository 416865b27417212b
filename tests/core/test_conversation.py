"""Conversation: delivery states from real session events, view-once rules, timers, export."""

from __future__ import annotations

import os

import pytest
from helpers import FakeClock, converse, drain, make_pair

from p2pchat.core.conversation import (
    Conversation,
    DisappearingTimer,
    MessageState,
    ViewOnceState,
)
from p2pchat.core.errors import LocalProtocolError
from p2pchat.core.session import (
    Acknowledged,
    ImageCancelled,
    ImageComplete,
    ImageOffered,
    Opened,
    PeerBye,
    TextReceived,
)

ID1, ID2, ID3 = "11" * 8, "22" * 8, "33" * 8


def feed(conversation: Conversation, events: list[object]) -> None:
    for event in events:
        conversation.apply(event)  # type: ignore[arg-type]


def test_text_states_follow_real_session_events() -> None:
    pair = make_pair()
    chat_a, chat_b = Conversation(pair.clock), Conversation(pair.clock)
    message_id = pair.a.send_text("hello")
    chat_a.add_outgoing_text(message_id, "hello")
    assert chat_a.get(message_id).state is MessageState.SENDING  # type: ignore[union-attr]
    chat_a.mark_sent(message_id)
    assert chat_a.get(message_id).state is MessageState.SENT  # type: ignore[union-attr]
    converse(pair)
    feed(chat_b, pair.b.events())
    feed(chat_a, pair.a.events())
    [received] = chat_b.messages()
    assert (received.direction, received.kind, received.text) == ("in", "text", "hello")
    assert received.state is MessageState.RECEIVED
    assert chat_a.get(message_id).state is MessageState.DELIVERED  # type: ignore[union-attr]


def test_image_states_follow_real_session_events() -> None:
    pair = make_pair()
    chat_a, chat_b = Conversation(pair.clock), Conversation(pair.clock)
    data = os.urandom(150_000)
    image_id = pair.a.send_image(data, "image/jpeg", 30, 20)
    chat_a.add_outgoing_image(image_id, mime="image/jpeg", width=30, height=20, size=len(data))
    converse(pair)
    feed(chat_a, pair.a.events())
    feed(chat_b, pair.b.events())
    sent = chat_a.get(image_id)
    got = chat_b.get(image_id)
    assert sent is not None and sent.state is MessageState.DELIVERED and sent.done == len(data)
    assert got is not None and got.state is MessageState.RECEIVED and got.done == len(data)
    assert (got.width, got.height, got.mime, got.size) == (30, 20, "image/jpeg", len(data))
    assert not hasattr(got, "data")  # the model never keeps image bytes


def test_outgoing_image_is_sent_after_last_chunk_and_cancel_is_final() -> None:
    pair = make_pair()
    chat = Conversation(pair.clock)
    image_id = pair.a.send_image(os.urandom(1000), "image/png", 1, 1)
    chat.add_outgoing_image(image_id, mime="image/png", width=1, height=1, size=1000)
    drain(pair.a)
    feed(chat, pair.a.events())
    assert chat.get(image_id).state is MessageState.SENT  # type: ignore[union-attr]
    chat.apply(ImageCancelled(image_id, by_peer=True, direction="out"))
    assert chat.get(image_id).state is MessageState.CANCELLED  # type: ignore[union-attr]
    chat.apply(Acknowledged(image_id))
    assert chat.get(image_id).state is MessageState.CANCELLED  # type: ignore[union-attr]


def test_peer_cannot_overwrite_or_ack_in_the_wrong_direction() -> None:
    clock = FakeClock()
    chat = Conversation(clock)
    chat.add_outgoing_text(ID1, "mine")
    assert chat.apply(TextReceived(ID1, "spoof", 1.0)) is None
    assert chat.get(ID1).text == "mine"  # type: ignore[union-attr]
    chat.apply(TextReceived(ID2, "theirs", 1.0))
    assert chat.apply(Acknowledged(ID2)) is None
    assert chat.get(ID2).state is MessageState.RECEIVED  # type: ignore[union-attr]
    with pytest.raises(LocalProtocolError):
        chat.add_outgoing_text(ID1, "again")


def test_peer_bye_fails_what_was_never_acknowledged() -> None:
    chat = Conversation(FakeClock())
    chat.add_outgoing_text(ID1, "delivered")
    chat.add_outgoing_text(ID2, "lost")
    chat.apply(Acknowledged(ID1))
    chat.apply(PeerBye())
    assert chat.get(ID1).state is MessageState.DELIVERED  # type: ignore[union-attr]
    assert chat.get(ID2).state is MessageState.FAILED  # type: ignore[union-attr]


def offer(chat: Conversation, image_id: str, view_once: bool = True, seconds: float = 10) -> None:
    chat.apply(ImageOffered(image_id, 100, "image/jpeg", 4, 3, view_once, seconds))


def complete(chat: Conversation, image_id: str, view_once: bool = True) -> None:
    chat.apply(ImageComplete(image_id, b"x" * 100, "image/jpeg", 4, 3, view_once, 10))


def test_view_once_opens_exactly_once_then_is_viewed() -> None:
    clock = FakeClock()
    chat = Conversation(clock)
    offer(chat, ID1)
    with pytest.raises(LocalProtocolError):
        chat.open_view_once(ID1)  # not complete yet
    complete(chat, ID1)
    assert chat.get(ID1).view_once is ViewOnceState.SEALED  # type: ignore[union-attr]
    opened = chat.open_view_once(ID1)
    assert opened.view_once is ViewOnceState.OPENED
    with pytest.raises(LocalProtocolError):
        chat.open_view_once(ID1)
    assert chat.finish_view_once(ID1).view_once is ViewOnceState.VIEWED
    with pytest.raises(LocalProtocolError):
        chat.open_view_once(ID1)
    with pytest.raises(LocalProtocolError):
        chat.finish_view_once(ID1)


def test_open_refuses_ordinary_and_outgoing_images() -> None:
    chat = Conversation(FakeClock())
    offer(chat, ID1, view_once=False)
    complete(chat, ID1, view_once=False)
    chat.add_outgoing_image(ID2, mime="image/png", width=1, height=1, size=1, view_once=True)
    for message_id in (ID1, ID2, ID3):
        with pytest.raises(LocalProtocolError):
            chat.open_view_once(message_id)


def test_unopened_view_once_expires_and_can_no_longer_be_opened() -> None:
    clock = FakeClock()
    chat = Conversation(clock, view_once_timeout=3600)
    offer(chat, ID1)
    complete(chat, ID1)
    assert chat.next_deadline() == clock.now + 3600
    assert chat.expire_view_once(clock.now + 3599) == []
    assert chat.expire_view_once(clock.now + 3600) == [ID1]
    assert chat.get(ID1).view_once is ViewOnceState.EXPIRED  # type: ignore[union-attr]
    with pytest.raises(LocalProtocolError):
        chat.open_view_once(ID1)
    assert chat.next_deadline() is None


def test_an_open_view_once_is_closed_by_its_countdown() -> None:
    clock = FakeClock()
    chat = Conversation(clock)
    offer(chat, ID1, seconds=5)
    complete(chat, ID1)
    chat.open_view_once(ID1)
    assert chat.expire(clock.now + 4.9) == []
    assert chat.get(ID1).view_once is ViewOnceState.OPENED  # type: ignore[union-attr]
    chat.expire(clock.now + 5)
    assert chat.get(ID1).view_once is ViewOnceState.VIEWED  # type: ignore[union-attr]


def test_sender_sees_opened_receipt() -> None:
    chat = Conversation(FakeClock())
    chat.add_outgoing_image(ID1, mime="image/png", width=1, height=1, size=1, view_once=True)
    chat.apply(Acknowledged(ID1))
    chat.apply(Opened(ID1))
    assert chat.get(ID1).view_once is ViewOnceState.OPENED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("timer", "seconds"),
    [
        (DisappearingTimer.SECONDS_30, 30),
        (DisappearingTimer.MINUTES_5, 300),
        (DisappearingTimer.HOUR_1, 3600),
        (DisappearingTimer.DAY_1, 86400),
    ],
)
def test_disappearing_messages_are_removed_on_time(timer: DisappearingTimer, seconds: int) -> None:
    clock = FakeClock()
    chat = Conversation(clock, disappearing=timer)
    chat.add_outgoing_text(ID1, "first")
    clock.advance(10)
    chat.apply(TextReceived(ID2, "second", 0.0))
    start = clock.now - 10
    assert chat.next_deadline() == start + seconds
    assert chat.expire(start + seconds - 0.001) == []
    assert chat.expire(start + seconds) == [ID1]
    assert ID1 not in chat and ID2 in chat
    assert chat.expire(start + seconds + 10) == [ID2]
    assert len(chat) == 0


def test_timer_off_keeps_messages_and_new_setting_applies_to_new_messages() -> None:
    clock = FakeClock()
    chat = Conversation(clock)
    chat.add_outgoing_text(ID1, "kept")
    chat.set_disappearing(DisappearingTimer.SECONDS_30)
    chat.add_outgoing_text(ID2, "goes")
    assert chat.expire(clock.now + 10 * 86400) == [ID2]
    assert [m.id for m in chat.messages()] == [ID1]


def test_export_excludes_view_once_and_strips_terminal_escapes() -> None:
    clock = FakeClock(now=0.0)
    chat = Conversation(clock)
    chat.add_outgoing_text(ID1, "hi")
    chat.apply(TextReceived(ID2, "evil \x1b[2J\u202eetxet", 0.0))
    offer(chat, ID3)
    complete(chat, ID3)
    offer(chat, "44" * 8, view_once=False)
    exported = chat.export_text(me="alice", peer="bob")
    assert exported.splitlines() == [
        "1970-01-01 00:00:00Z alice: hi",
        "1970-01-01 00:00:00Z bob: evil [2Jetxet",
        "1970-01-01 00:00:00Z bob: [photo 4x3, receiving]",
    ]
    assert "\x1b" not in exported
    assert all(not m.exportable for m in chat.messages() if m.id == ID3)


def test_export_indents_continuation_lines_so_a_message_cannot_forge_one() -> None:
    chat = Conversation(FakeClock(now=0.0))
    forged = "sorry\n1970-01-01 00:00:00Z alice: I confess everything"
    chat.apply(TextReceived(ID1, forged, 0.0))
    assert chat.export_text(me="alice", peer="bob").splitlines() == [
        "1970-01-01 00:00:00Z bob: sorry",
        "    1970-01-01 00:00:00Z alice: I confess everything",
    ]


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("jump", [-3600.0, 86400.0], ids=["set back an hour", "set forward a day"])
def test_disappearing_countdown_ignores_the_wall_clock(jump: float) -> None:
    """Issue 20 §6: a clock set back kept a message for ever, set forward erased the next."""
    wall, steady = _Clock(1_800_000_000.0), _Clock(500.0)
    chat = Conversation(wall, timer_clock=steady, disappearing=DisappearingTimer.SECONDS_30)
    chat.add_outgoing_text(ID1, "before the jump")
    wall.now += jump
    chat.add_outgoing_text(ID2, "after the jump")
    steady.now += 0.4
    assert chat.expire() == [], "the wall clock moved, not time"
    steady.now += 29.6
    assert chat.expire() == [ID1, ID2]
    assert chat.next_deadline() is None


def test_stamps_come_from_the_wall_clock_and_deadlines_from_the_timer_clock() -> None:
    wall, steady = _Clock(1_800_000_000.0), _Clock(500.0)
    chat = Conversation(wall, timer_clock=steady, disappearing=DisappearingTimer.SECONDS_30)
    message = chat.add_outgoing_text(ID1, "hello")
    assert message.time == wall.now
    assert message.expires_at == steady.now + 30
    assert chat.export_text().startswith("2027-01-15 08:00:00Z")
