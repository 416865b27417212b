"""Disappearing messages end to end: two services over real aiortc on loopback.

One side sets the timer with a ``timer`` frame; both services apply it to their
own conversation (``service.conversation``: nothing here feeds it), and the
message is gone from both after the timer. The services' timer clocks run 60
times faster than real time, so the 30-second setting takes half a real second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from p2pchat.core.message import DisappearingTimer
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
            mailbox_url=embedded_mailbox,
            ice=IceSettings(),
            loopback=True,
            label=label,
            timer_clock=fast_clock,
        )

    alice, bob = ChatService(config("alice")), ChatService(config("bob"))
    try:
        code = await alice.invite()
        await bob.join(code)
        await asyncio.gather(alice.wait_paired(20), bob.wait_paired(20))
        screens = {"alice": alice.conversation, "bob": bob.conversation}
        kept = await alice.send_text("kept for good")
        await next_of(bob, ev.TextReceived)

        await alice.set_timer(30)
        mine = await next_of(alice, TimerChanged)
        theirs = await next_of(bob, TimerChanged)
        assert isinstance(mine, TimerChanged) and not mine.by_peer and mine.seconds == 30
        assert isinstance(theirs, TimerChanged) and theirs.by_peer and theirs.seconds == 30
        assert all(s.disappearing is DisappearingTimer.SECONDS_30 for s in screens.values())

        message_id = await alice.send_text("this will vanish")
        received = await next_of(bob, ev.TextReceived)
        assert isinstance(received, ev.TextReceived)
        assert all(message_id in screen for screen in screens.values())

        def everything_expired() -> bool:
            return all(screen.is_gone(message_id) for screen in screens.values())

        await until(everything_expired)
        for screen in screens.values():
            assert message_id not in screen
            assert [m.id for m in screen.messages()] == [kept]  # only what came after the timer
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
