"""Fixtures for the net tests: embedded mailbox servers with custom limits.

Helpers: ``open_pair(url)`` (two clients on one mailbox) and
``assert_third_side_refused(url, match)`` (the same check against either server).

``start_mailbox`` (async factory): ``await start_mailbox(**limit_overrides)``
starts a ``MailboxServer`` on 127.0.0.1:0 with ``ServerLimits(**limit_overrides)``
and returns the running server (``server.url``); every server is stopped at
teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from p2pchat.net.mailbox_server import MailboxServer, ServerLimits

StartMailbox = Callable[..., Awaitable[MailboxServer]]


@pytest.fixture
async def start_mailbox() -> AsyncIterator[StartMailbox]:
    servers: list[MailboxServer] = []

    async def start(**overrides: Any) -> MailboxServer:
        server = MailboxServer(limits=ServerLimits(**overrides))
        await server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


APPID = "p2pchat/test"


async def open_pair(url: str, appid: str = APPID) -> tuple[Any, Any, str]:
    """Two connected clients on one mailbox: (inviter, joiner, nameplate).

    The inviter allocates and claims, the joiner claims the same nameplate; both open.
    """
    from p2pchat.net.mailbox import MailboxClient

    inviter = await MailboxClient.connect(url, appid, timeout=5)
    joiner = await MailboxClient.connect(url, appid, timeout=5)
    nameplate = await inviter.allocate()
    mailbox = await inviter.claim(nameplate)
    await inviter.open(mailbox)
    assert await joiner.claim(nameplate) == mailbox
    await joiner.open(mailbox)
    return inviter, joiner, nameplate


async def assert_third_side_refused(url: str, match: str) -> None:
    """A third client claiming a nameplate two already hold gets a ``P2PChatError``."""
    from p2pchat.core.errors import P2PChatError
    from p2pchat.net.mailbox import MailboxClient

    inviter, joiner, nameplate = await open_pair(url)
    intruder = await MailboxClient.connect(url, APPID, timeout=5)
    with pytest.raises(P2PChatError, match=match):
        await intruder.claim(nameplate)
    for client in (inviter, joiner, intruder):
        await client.close()
