"""Disappearing messages end to end: two services over real aiortc on loopback.

One side sets the timer with a ``timer`` frame; both apply it to their in-memory
conversation, and the message is gone from both after the timer. The
conversations' clocks run 60 times faster than real time, so the 30-second
setting takes half a real second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from p2pchat.core import session as core_session
from p2pchat.core.conversation import Conversation, DisappearingTimer
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig, TimerChanged
from p2pchat.service import events as ev

SPEEDUP = 60.0


def fast_clock() -> float:
    return time.monotonic() * SPEEDUP


async def next_of(service: ChatService, kind: type[ev.ServiceEvent]) -> ev.ServiceEvent:
    while True:
        event = await asyncio.wait_for(service.next_event(), 20)
        if isinstance(event, kind):
            return event
        assert not isinstance(event, ev.Failed), event


async def until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), 20)


async def test_timer_is_agreed_and_messages_vanish_on_both_sides(embedded_mailbox: str) -> None:
    def config(label: str) -> ServiceConfig:
        return ServiceConfig(
            mailbox_url=embedded_mailbox, ice=IceSettings(), loopback=True, label=label
        )

    alice, bob = ChatService(config("alice")), ChatService(config("bob"))
    try:
        code = await alice.invite()
        await bob.join(code)
        await asyncio.gather(alice.wait_paired(20), bob.wait_paired(20))
        screens = {"alice": Conversation(fast_clock), "bob": Conversation(fast_clock)}

        await alice.set_timer(30)
        mine = await next_of(alice, TimerChanged)
        theirs = await next_of(bob, TimerChanged)
        assert isinstance(mine, TimerChanged) and not mine.by_peer and mine.seconds == 30
        assert isinstance(theirs, TimerChanged) and theirs.by_peer and theirs.seconds == 30
        screens["alice"].set_disappearing(DisappearingTimer(mine.seconds))
        screens["bob"].set_disappearing(DisappearingTimer(theirs.seconds))

        message_id = await alice.send_text("this will vanish")
        screens["alice"].add_outgoing_text(message_id, "this will vanish")
        received = await next_of(bob, ev.TextReceived)
        assert isinstance(received, ev.TextReceived)
        screens["bob"].apply(
            core_session.TextReceived(received.message_id, received.text, received.sent_at)
        )
        assert all(message_id in screen for screen in screens.values())
        assert screens["bob"].next_deadline() is not None

        def everything_expired() -> bool:
            for screen in screens.values():
                screen.expire(fast_clock())
            return all(len(screen) == 0 for screen in screens.values())

        await until(everything_expired)
        for screen in screens.values():
            assert message_id not in screen
            assert "vanish" not in screen.export_text()
    finally:
        await asyncio.gather(alice.close(), bob.close())


async def test_a_timer_outside_the_choices_is_refused_locally(embedded_mailbox: str) -> None:
    import pytest

    from p2pchat.core.errors import LocalProtocolError

    config = ServiceConfig(mailbox_url=embedded_mailbox, ice=IceSettings(), loopback=True)
    alice, bob = ChatService(config), ChatService(config)
    try:
        await bob.join(await alice.invite())
        await alice.wait_paired(20)
        with pytest.raises(LocalProtocolError, match="timer"):
            await alice.set_timer(7)
    finally:
        await asyncio.gather(alice.close(), bob.close())
