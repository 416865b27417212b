"""The verified peer's last check before a session starts: ``ServiceConfig.peer_check``.

Pinning and blocking live in the front end's ``peer_check``; this runs it, and
when the refusal is our own failure to keep the contact, says so to the peer in
an encrypted ``bye`` first. Moved out of ``pairing_flow`` unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from p2pchat.core import session as core_session
from p2pchat.core.errors import P2PChatError
from p2pchat.core.keys import SessionKeys
from p2pchat.net.link import Link
from p2pchat.service.config import (
    BYE_LINGER_SECONDS,
    BYE_REASON_SECONDS,
    MAX_WIRE_FRAME,
    PIN_FAILED_REASON,
    ServiceConfig,
)
from p2pchat.store.paths import ConfigUnavailable


async def check_peer(config: ServiceConfig, link: Link, keys: SessionKeys) -> None:
    """``peer_check`` (pinning, blocking); a failure to keep the contact is told to the peer.

    A refusal (a changed key, a blocked contact) says nothing to the other side. A
    failure of our own (the contact book could not be saved: a read-only or full
    disk, exit code 2) is said in an encrypted ``bye``, so the other person is not
    left with "the peer closed the connection" while only we know why.
    """
    if config.peer_check is None:
        return
    try:
        config.peer_check(keys)
    except P2PChatError as error:
        if isinstance(error, ConfigUnavailable):  # a contact book that cannot be saved
            await say_bye_with_reason(config, link, keys, PIN_FAILED_REASON)
        raise


async def say_bye_with_reason(
    config: ServiceConfig, link: Link, keys: SessionKeys, reason: str
) -> None:
    session = core_session.Session(keys, limits=config.limits, clock=time.time)
    session.close(reason)
    with contextlib.suppress(P2PChatError, TimeoutError):
        async with asyncio.timeout(BYE_REASON_SECONDS):
            while (frame := session.next_frame()) is not None:
                await link.wait_writable(len(frame[1]))
                await link.send(*frame)
            # Let it leave before the caller closes the link under it.
            await link.wait_writable(MAX_WIRE_FRAME)
            await asyncio.sleep(BYE_LINGER_SECONDS)
