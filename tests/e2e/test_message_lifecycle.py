"""One message lifecycle, kept by the service: two real ChatServices on 127.0.0.1.

After a real exchange (texts both ways, a photo, a view-once photo opened once)
each side's ``service.conversation`` holds every message exactly once, in order,
with the state it reached: what we sent delivered (and opened), what arrived
received, a view-once photo sealed, then viewed on the receiver and opened on
the sender. Nothing in the test feeds the model: only the services do.
"""

from __future__ import annotations

import asyncio

from p2pchat.core.message import ConversationView, MessageState, ViewOnceState
from p2pchat.service import events as ev
from tests.viewonce.conftest import next_event, noise_photo, pair_services, until


def summary(conversation: ConversationView) -> list[tuple[str, str, str, str, str | None]]:
    return [
        (
            m.id,
            m.direction,
            m.kind,
            m.state.value,
            m.view_once.value if m.view_once is not None else None,
        )
        for m in conversation.messages()
    ]


async def test_each_message_is_kept_once_with_its_state_on_both_sides(embedded_mailbox: str):
    alice, bob = await pair_services(embedded_mailbox)
    try:
        hello = await alice.send_text("hello bob")
        await next_event(bob, ev.TextReceived)
        reply = await bob.send_text("hi alice")
        await next_event(alice, ev.TextReceived)
        photo = await alice.send_image(await alice.prepare_image(noise_photo(seed=11)))
        await next_event(bob, ev.ImageReceived)
        sealed_photo = await alice.prepare_image(noise_photo(seed=12))
        sealed = await alice.send_image(sealed_photo, view_once=True, view_seconds=3)
        arrived = await next_event(bob, ev.ImageReceived)
        assert arrived.message_id == sealed and arrived.vault_id is not None
        await alice.wait_delivered(20)
        # A sealed photo is sealed on both sides until it is opened.
        assert bob.conversation.get(sealed).view_once is ViewOnceState.SEALED  # type: ignore[union-attr]
        assert alice.conversation.get(sealed).view_once is ViewOnceState.SEALED  # type: ignore[union-attr]
        await bob.mark_opened(sealed)
        await next_event(alice, ev.Opened)
        await bob.wait_delivered(20)

        assert summary(alice.conversation) == [
            (hello, "out", "text", "delivered", None),
            (reply, "in", "text", "received", None),
            (photo, "out", "image", "delivered", None),
            (sealed, "out", "image", "delivered", "opened"),
        ]
        assert summary(bob.conversation) == [
            (hello, "in", "text", "received", None),
            (reply, "out", "text", "delivered", None),
            (photo, "in", "image", "received", None),
            (sealed, "in", "image", "received", "viewed"),
        ]
        texts = {m.id: m.text for m in bob.conversation.messages()}
        assert texts[hello] == "hello bob" and texts[reply] == "hi alice"
        # Never the photo's bytes, on either side.
        for message in [*alice.conversation.messages(), *bob.conversation.messages()]:
            assert not hasattr(message, "data")
        # The export leaves the view-once photo out entirely.
        export = bob.conversation.export_text(me="bob", peer="alice")
        assert "hello bob" in export and "96x64, received" in export
        assert export.count("[photo") == 1
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)


async def test_a_sent_message_the_peer_never_confirmed_is_failed_after_its_bye(
    embedded_mailbox: str,
):
    alice, bob = await pair_services(embedded_mailbox, bob_changes={"confirm_texts": True})
    try:
        held = await alice.send_text("bob never says he wrote this out")
        received = await next_event(bob, ev.TextReceived)
        assert received.message_id == held
        await until(
            lambda: alice.conversation.get(held).state is MessageState.SENT,  # type: ignore[union-attr]
            "sent, no ack (bob holds it)",
        )
        await bob.close()
        await next_event(alice, ev.PeerLeft)
        assert alice.conversation.get(held).state is MessageState.FAILED  # type: ignore[union-attr]
        assert bob.conversation.get(held).state is MessageState.RECEIVED  # type: ignore[union-attr]
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)


async def test_without_history_nothing_is_kept_and_delivery_still_counts(embedded_mailbox: str):
    """A script's service (headless: ``keep_history=False``) holds no message in memory."""
    alice, bob = await pair_services(embedded_mailbox, bob_changes={"keep_history": False})
    try:
        hello = await alice.send_text("hello script")
        assert (await next_event(bob, ev.TextReceived)).text == "hello script"
        await bob.send_image(await bob.prepare_image(noise_photo(seed=13)))
        await next_event(alice, ev.ImageReceived)
        await bob.send_text("noted")
        await asyncio.gather(alice.wait_delivered(20), bob.wait_delivered(20))
        assert len(bob.conversation) == 0 and bob.conversation.messages() == []
        assert [m.state for m in alice.conversation.messages()] == [
            MessageState.DELIVERED,
            MessageState.RECEIVED,
            MessageState.RECEIVED,
        ]
        assert alice.conversation.get(hello) is not None
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)
