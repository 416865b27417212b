"""Two real ChatServices paired on loopback, and waiting for one kind of their events.

Shared by the service-level tests that pair Alice and Bob through a real mailbox
(direct TCP, transit relay, close races): each test file keeps only its own config.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev

DEADLINE = 40.0


async def next_of(
    service: ChatService, kind: type[ev.ServiceEvent], deadline: float = DEADLINE
) -> ev.ServiceEvent:
    """The service's next event of ``kind``, skipping others; TimeoutError after ``deadline``."""
    while True:
        event = await asyncio.wait_for(service.next_event(), deadline)
        if isinstance(event, kind):
            return event


@contextlib.asynccontextmanager
async def pair(
    alice_config: ServiceConfig, bob_config: ServiceConfig, deadline: float = DEADLINE
) -> AsyncIterator[tuple[ChatService, ChatService, ev.Paired, ev.Paired]]:
    """Alice invites, Bob joins; both paired events; both closed (bounded) afterwards."""
    alice, bob = ChatService(alice_config), ChatService(bob_config)
    try:
        await bob.join(await alice.invite())
        a, b = await asyncio.gather(alice.wait_paired(deadline), bob.wait_paired(deadline))
        yield alice, bob, a, b
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), deadline)
