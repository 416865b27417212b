"""Fuzzing the service's one record of messages (``service.ledger.MessageLedger``).

Arbitrary interleavings of our own sends and of session events a peer can
cause (texts, photo offers, chunks, completions, acks, receipts, cancels, bye),
with ids drawn from our messages and the peer's alike, since a peer knows the
ids of what we sent it. Whatever the order, nothing raises, each message stays
once with the direction, kind and text it was added with (a peer cannot
overwrite ours, nor its own), a final state is never left, and "all delivered"
says exactly whether a send still waits for its confirmation.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core import session as core_session
from p2pchat.core.message import FINAL_STATES, Message, MessageState
from p2pchat.service import ServiceConfig
from p2pchat.service import events as ev
from p2pchat.service.ledger import MessageLedger

OURS = ("our-1", "our-2", "our-3")
THEIRS = ("peer-1", "peer-2", "peer-3")
ANY_ID = st.sampled_from(OURS + THEIRS)
DIRECTION = st.sampled_from(("in", "out"))

FAST = settings(max_examples=400, deadline=None, database=None)

peer_events = st.one_of(
    st.builds(core_session.TextReceived, ANY_ID, st.text(max_size=20), st.floats(0, 2e9)),
    st.builds(
        core_session.ImageOffered,
        ANY_ID,
        st.integers(1, 10_000),
        st.just("image/jpeg"),
        st.integers(1, 64),
        st.integers(1, 64),
        st.booleans(),
        st.floats(1, 30),
    ),
    st.builds(
        core_session.ChunkProgress, ANY_ID, DIRECTION, st.integers(0, 10_000), st.just(10_000)
    ),
    st.builds(
        core_session.ImageComplete,
        ANY_ID,
        st.just(b""),
        st.just("image/jpeg"),
        st.just(8),
        st.just(8),
        st.booleans(),
        st.just(10.0),
    ),
    st.builds(core_session.Acknowledged, ANY_ID),
    st.builds(core_session.Opened, ANY_ID),
    st.builds(core_session.ImageCancelled, ANY_ID, by_peer=st.booleans(), direction=DIRECTION),
    st.builds(core_session.PeerBye, st.just("")),
)
our_sends = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(OURS), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("image"), st.sampled_from(OURS), st.booleans()),
)
received_images = st.builds(
    ev.ImageReceived,
    ANY_ID,
    st.just(b"\xff\xd8"),
    st.just("image/jpeg"),
    st.just(8),
    st.just(8),
    st.booleans(),
    st.just(10.0),
)
steps = st.lists(st.one_of(peer_events, our_sends, received_images), max_size=40)


@FAST
@given(steps)
def test_any_order_of_events_keeps_each_message_once_and_final_states_final(
    operations: list[object],
) -> None:
    asyncio.run(_run(operations))


async def _run(operations: list[object]) -> None:
    emitted: list[ev.ServiceEvent] = []
    ledger = MessageLedger(ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"), emitted.append)
    first_seen: dict[str, tuple[str, str, str]] = {}
    finals: dict[str, Message] = {}
    sent: set[str] = set()
    for operation in operations:
        if isinstance(operation, tuple):
            kind, message_id, detail = operation
            if message_id in sent or message_id in ledger.model:
                continue  # the session never hands out an id twice
            sent.add(message_id)
            if kind == "text":
                ledger.sent_text(message_id, str(detail))
            else:
                ledger.sent_image(
                    message_id,
                    mime="image/jpeg",
                    width=8,
                    height=8,
                    size=100,
                    view_once=bool(detail),
                    view_seconds=10.0,
                )
        elif isinstance(operation, ev.ImageReceived):
            ledger.image_received(operation)
        else:
            ledger.apply(operation)  # type: ignore[arg-type]
        messages = ledger.view.messages()
        assert len({m.id for m in messages}) == len(messages)
        for message in messages:
            shape = (message.direction, message.kind, message.text)
            assert first_seen.setdefault(message.id, shape) == shape
            if message.id in finals:
                assert message.state is finals[message.id].state
            elif message.state in FINAL_STATES:
                finals[message.id] = message
        assert ledger.pending_delivery <= sent
        assert ledger.all_delivered.is_set() == (not ledger.pending_delivery)
    for message in ledger.view.messages():
        if message.direction == "out":
            assert message.id in sent
        assert message.state is not MessageState.RECEIVING or message.direction == "in"
