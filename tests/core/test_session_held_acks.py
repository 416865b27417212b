"""Held image acks: "delivered" means the receiver kept the photo (issue 20 §1).

With ``hold_image_acks`` the receiver acknowledges a complete photo only once its
front end saved it (``acknowledge``); ``refuse_image`` tells the sender it was not
kept, with the receiver's ``cancel`` that every peer already understands.
"""

from __future__ import annotations

import os

from helpers import FakeClock, Pair, converse, make_key_pair

from p2pchat.core.session import (
    Acknowledged,
    ImageCancelled,
    ImageComplete,
    Session,
    TextReceived,
)

IMAGE = os.urandom(150_000)


def held_pair() -> Pair:
    keys_a, keys_b = make_key_pair(None, None)
    clock = FakeClock()
    a = Session(keys_a, clock=clock)
    b = Session(keys_b, clock=clock, hold_image_acks=True)
    return Pair(a, b, keys_a, keys_b, clock)


def test_a_held_photo_is_acknowledged_only_once_kept() -> None:
    pair = held_pair()
    image_id = pair.a.send_image(IMAGE, "image/jpeg", 800, 600)
    converse(pair)
    assert [e.id for e in pair.b.events() if isinstance(e, ImageComplete)] == [image_id]
    assert not [e for e in pair.a.events() if isinstance(e, Acknowledged)]
    pair.b.acknowledge(image_id)
    converse(pair)
    assert Acknowledged(image_id) in pair.a.events()


def test_a_refused_photo_is_cancelled_at_the_sender_and_the_chat_goes_on() -> None:
    pair = held_pair()
    image_id = pair.a.send_image(IMAGE, "image/jpeg", 800, 600)
    converse(pair)
    pair.b.events()
    pair.b.refuse_image(image_id)
    pair.b.acknowledge(image_id)  # too late: settled once
    converse(pair)
    a_events = pair.a.events()
    assert ImageCancelled(image_id, by_peer=True, direction="out") in a_events
    assert not [e for e in a_events if isinstance(e, Acknowledged)]
    text_id = pair.a.send_text("still here")
    converse(pair)
    assert [e.id for e in pair.b.events() if isinstance(e, TextReceived)] == [text_id]
    assert Acknowledged(text_id) in pair.a.events()


def test_view_once_photos_and_texts_are_never_held() -> None:
    pair = held_pair()
    image_id = pair.a.send_image(IMAGE, "image/jpeg", 800, 600, view_once=True)
    text_id = pair.a.send_text("hello")
    converse(pair)
    a_events = pair.a.events()
    assert Acknowledged(image_id) in a_events and Acknowledged(text_id) in a_events


def test_a_held_text_is_acknowledged_once_written() -> None:
    keys_a, keys_b = make_key_pair(None, None)
    clock = FakeClock()
    pair = Pair(
        Session(keys_a, clock=clock), Session(keys_b, hold_text_acks=True), keys_a, keys_b, clock
    )
    text_id = pair.a.send_text("hello")
    converse(pair)
    assert [e.id for e in pair.b.events() if isinstance(e, TextReceived)] == [text_id]
    assert not [e for e in pair.a.events() if isinstance(e, Acknowledged)]
    pair.b.acknowledge(text_id)
    converse(pair)
    assert Acknowledged(text_id) in pair.a.events()
