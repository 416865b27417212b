"""A code that failed is not tried again in the same process (issue 19 section 4).

A hostile mailbox gets one guess against each side of a pairing; each retyping
of the same failed code would hand it one more. Real parts: the embedded
mailbox on 127.0.0.1, two ``ChatService``s on loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from p2pchat.core import codes
from p2pchat.core.errors import InvalidCode, P2PChatError
from p2pchat.core.wordlist import ODD_WORDS
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig

DEADLINE = 30.0


def service(url: str) -> ChatService:
    return ChatService(ServiceConfig(mailbox_url=url, ice=IceSettings(), loopback=True))


def wrong(code: str) -> str:
    parsed = codes.parse(code)
    first, second, third = parsed.words
    other = ODD_WORDS[(ODD_WORDS.index(second) + 1) % len(ODD_WORDS)]
    return str(codes.InviteCode(parsed.nameplate, (first, other, third)))


async def test_a_code_that_failed_is_refused_when_typed_again(embedded_mailbox: str) -> None:
    inviter, joiner = service(embedded_mailbox), service(embedded_mailbox)
    code = await inviter.invite()
    mistyped = wrong(code)
    await joiner.join(mistyped)
    with pytest.raises(P2PChatError):
        await joiner.wait_paired(DEADLINE)
    with pytest.raises(P2PChatError):
        await inviter.wait_paired(DEADLINE)
    await asyncio.gather(inviter.close(), joiner.close())
    again = service(embedded_mailbox)
    with pytest.raises(InvalidCode, match="already failed"):
        await again.join(mistyped.replace("-", " ").upper())
    assert again.state == "idle"  # refused before touching the network
    # A new invite still pairs.
    inviter, joiner = service(embedded_mailbox), service(embedded_mailbox)
    await joiner.join(await inviter.invite())
    await asyncio.gather(inviter.wait_paired(DEADLINE), joiner.wait_paired(DEADLINE))
    await asyncio.gather(inviter.close(), joiner.close(), again.close())
