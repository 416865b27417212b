"""Relay-only RtcLinks through a real coturn on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from p2pchat.core.errors import TransportError
from p2pchat.core.keys import Channel
from p2pchat.net.rtc import IceSettings, RtcLink

try:  # tests/net is a plain directory today; keep working if it becomes a package
    from tests.net.coturn import coturn_available, running_coturn
except ImportError:
    from coturn import coturn_available, running_coturn  # type: ignore[no-redef]

pytestmark = pytest.mark.skipif(not coturn_available(), reason="coturn turnserver not installed")


def candidate_types(sdp: str) -> set[str]:
    return {line.split()[7] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def open_relayed(settings: IceSettings) -> None:
    a, b = RtcLink(settings, loopback=True), RtcLink(settings, loopback=True)
    try:
        offer = await a.create_offer()
        answer = await b.accept_offer(offer)
        await a.accept_answer(answer)
        await asyncio.gather(a.wait_open(15), b.wait_open(15))
        for sdp in (offer, answer):
            assert candidate_types(sdp) == {"relay"}
            assert candidate_addresses(sdp) == {"127.0.0.1"}
        assert a.connection_kind == "relay"
        assert b.connection_kind == "relay"
        await a.send(Channel.DATA, b"through the relay")
        assert await b.recv(timeout=10) == (Channel.DATA, b"through the relay")
        await b.send(Channel.CONTROL, b"and back")
        assert await a.recv(timeout=10) == (Channel.CONTROL, b"and back")
    finally:
        await a.close()
        await b.close()


@pytest.fixture(scope="module")
def turn_lt():
    with running_coturn(user="alice") as server:
        yield server


async def test_relay_only_with_long_term_credentials(turn_lt):
    await open_relayed(
        IceSettings(
            turn_url=turn_lt.url,
            turn_username=turn_lt.user,
            turn_credential=turn_lt.password,
            relay_only=True,
        )
    )


async def test_relay_only_with_rest_shared_secret():
    with running_coturn(static_auth_secret="rest-secret-for-tests") as server:
        await open_relayed(
            IceSettings(turn_url=server.url, turn_secret="rest-secret-for-tests", relay_only=True)
        )


async def test_wrong_turn_password_says_so(turn_lt):
    link = RtcLink(
        IceSettings(
            turn_url=turn_lt.url,
            turn_username=turn_lt.user,
            turn_credential="not-the-password",
            relay_only=True,
        ),
        loopback=True,
    )
    try:
        with pytest.raises(TransportError, match="TURN server gave no relay address"):
            await link.create_offer()
    finally:
        await link.close()
