"""The transit link: the real magic-wormhole transit relay on 127.0.0.1 glues two peers.

Frames keep their channel and order; a wrong token is never glued to anyone; a
hostile frame header closes the link with a clear error before any allocation.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from p2pchat.core.errors import PeerLost, RemoteProtocolError, TransportError
from p2pchat.core.keys import Channel
from p2pchat.net.transit import (
    MAX_FRAME,
    TransitLink,
    open_transit,
    parse_relay,
    relay_handshake,
)
from tests.conftest import free_tcp_port

DEADLINE = 15.0


async def glued(relay: str, key: bytes) -> tuple[TransitLink, TransitLink]:
    a, b = await asyncio.wait_for(
        asyncio.gather(open_transit(relay, key, "offerer"), open_transit(relay, key, "answerer")),
        DEADLINE,
    )
    return a, b


def test_the_handshake_line_is_what_the_relay_parses() -> None:
    key = bytes(range(32))
    line = relay_handshake(key, "offerer")
    words = line.decode().split()
    assert words[:2] == ["please", "relay"] and words[3:5] == ["for", "side"]
    assert len(words[2]) == 64 and len(words[5]) == 16 and line.endswith(b"\n")
    other = relay_handshake(key, "answerer").decode().split()
    assert other[2] == words[2]  # the same token
    assert other[5] != words[5]  # another side: the relay glues only different sides
    assert relay_handshake(os.urandom(32), "offerer").decode().split()[2] != words[2]


@pytest.mark.parametrize("hint", ["transit.example:4001", "tcp:host", "tcp::4001", "tcp:h:0"])
def test_a_malformed_relay_address_is_refused(hint: str) -> None:
    with pytest.raises(TransportError, match="tcp:HOST:PORT"):
        parse_relay(hint)


def test_an_ipv6_relay_address_parses() -> None:
    assert parse_relay("tcp:[::1]:4001") == ("::1", 4001)


async def test_frames_cross_the_real_relay_in_order(transit_relay: str) -> None:
    a, b = await glued(transit_relay, os.urandom(32))
    try:
        assert a.connection_kind == b.connection_kind == "transit"
        sent = [(Channel.CONTROL, b"bind")]
        sent += [(Channel.DATA, os.urandom(60_000)) for _ in range(40)]
        sent.append((Channel.CONTROL, b""))
        for channel, data in sent:
            await a.send(channel, data)
        received = [await b.recv(timeout=DEADLINE) for _ in sent]
        assert received == sent
        await b.send(Channel.CONTROL, b"back")
        assert await a.recv(timeout=DEADLINE) == (Channel.CONTROL, b"back")
        await a.close()
        with pytest.raises(PeerLost):
            await asyncio.wait_for(b.recv(), DEADLINE)
    finally:
        await a.close()
        await b.close()


async def test_a_different_key_is_never_glued_to_the_pair(transit_relay: str) -> None:
    key = os.urandom(32)
    stranger = asyncio.ensure_future(open_transit(transit_relay, os.urandom(32), "answerer"))
    a, b = await glued(transit_relay, key)
    try:
        await a.send(Channel.DATA, b"for b only")
        assert await b.recv(timeout=DEADLINE) == (Channel.DATA, b"for b only")
        await asyncio.sleep(0.2)
        assert not stranger.done(), "the relay answered a stranger with another key"
    finally:
        stranger.cancel()
        await a.close()
        await b.close()


async def test_an_oversized_frame_header_closes_the_link(transit_relay: str) -> None:
    a, b = await glued(transit_relay, os.urandom(32))
    try:
        # What a hostile peer could write: a header announcing 4 GiB.
        a._writer.write(bytes([int(Channel.DATA)]) + (2**32 - 1).to_bytes(4, "big"))
        with pytest.raises(RemoteProtocolError, match=str(MAX_FRAME)):
            await asyncio.wait_for(b.recv(), DEADLINE)
    finally:
        await a.close()
        await b.close()


async def test_an_unknown_channel_closes_the_link(transit_relay: str) -> None:
    a, b = await glued(transit_relay, os.urandom(32))
    try:
        a._writer.write(bytes([9, 0, 0, 0, 1, 0]))
        with pytest.raises(RemoteProtocolError, match="unknown channel"):
            await asyncio.wait_for(b.recv(), DEADLINE)
    finally:
        await a.close()
        await b.close()


async def test_an_unreachable_relay_is_named() -> None:
    relay = f"tcp:127.0.0.1:{free_tcp_port()}"
    with pytest.raises(TransportError, match=f"transit relay {relay} could not be reached"):
        await open_transit(relay, os.urandom(32), "offerer")
