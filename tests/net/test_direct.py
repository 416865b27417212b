"""The direct TCP path's listener, connector and proof, over real sockets on 127.0.0.1.

Frames keep their channel and order; a connection without the key is dropped
without disturbing the one that has it; a silent or chatty stranger is cut off
after a bounded time and byte count; the listener takes a bounded number of
connections and stops listening when closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os

import pytest

from p2pchat.core.errors import PeerLost, TransportError
from p2pchat.core.handshake.version import hint_address_allowed
from p2pchat.core.keys import Channel
from p2pchat.net import direct
from p2pchat.net.direct import (
    HELLO_PREFIX,
    HELLO_SIZE,
    PROOF_SIZE,
    DirectListener,
    connect_direct,
    local_hint_addresses,
)
from tests.conftest import free_tcp_port

DEADLINE = 15.0
KEY = bytes(range(32))


async def _listener() -> DirectListener:
    listener = await DirectListener.open(["127.0.0.1"])
    assert len(listener.hints) == 1 and listener.hints[0][0] == "127.0.0.1"
    return listener


async def test_the_right_key_opens_a_link_that_carries_frames_both_ways() -> None:
    listener = await _listener()
    try:
        accepted, connected = await asyncio.wait_for(
            asyncio.gather(listener.accept(KEY), connect_direct(listener.hints, KEY)), DEADLINE
        )
        assert accepted.connection_kind == connected.connection_kind == "lan"
        await connected.send(Channel.CONTROL, b"bind")
        await connected.send(Channel.DATA, b"x" * 100_000)
        assert await accepted.recv(DEADLINE) == (Channel.CONTROL, b"bind")
        assert await accepted.recv(DEADLINE) == (Channel.DATA, b"x" * 100_000)
        await accepted.send(Channel.CONTROL, b"back")
        assert await connected.recv(DEADLINE) == (Channel.CONTROL, b"back")
        await connected.close()
        with pytest.raises(PeerLost, match="direct connection"):
            await accepted.recv(DEADLINE)
        await accepted.close()
    finally:
        await listener.close()


async def test_a_connection_may_arrive_before_the_listener_knows_the_key() -> None:
    listener = await _listener()
    try:
        connecting = asyncio.ensure_future(connect_direct(listener.hints, KEY))
        await asyncio.sleep(0.2)  # the peer verified our version before we did theirs
        accepted = await asyncio.wait_for(listener.accept(KEY), DEADLINE)
        connected = await asyncio.wait_for(connecting, DEADLINE)
        await connected.send(Channel.CONTROL, b"hello")
        assert await accepted.recv(DEADLINE) == (Channel.CONTROL, b"hello")
        await asyncio.gather(accepted.close(), connected.close())
    finally:
        await listener.close()


async def test_a_wrong_key_is_refused_and_the_right_one_still_gets_in() -> None:
    listener = await _listener()
    try:
        accepting = asyncio.ensure_future(listener.accept(KEY))
        with pytest.raises(TransportError):
            await asyncio.wait_for(connect_direct(listener.hints, os.urandom(32)), DEADLINE)
        assert not accepting.done()
        connected = await asyncio.wait_for(connect_direct(listener.hints, KEY), DEADLINE)
        accepted = await asyncio.wait_for(accepting, DEADLINE)
        await connected.send(Channel.CONTROL, b"it is me")
        assert await accepted.recv(DEADLINE) == (Channel.CONTROL, b"it is me")
        await asyncio.gather(accepted.close(), connected.close())
    finally:
        await listener.close()


async def test_a_listener_without_the_key_is_refused_by_the_connector() -> None:
    listener = await _listener()
    try:
        accepting = asyncio.ensure_future(listener.accept(os.urandom(32)))
        with pytest.raises(TransportError):
            await asyncio.wait_for(connect_direct(listener.hints, KEY), DEADLINE)
        assert not accepting.done()
    finally:
        await listener.close()


async def _stranger(port: int, send: bytes) -> bytes:
    """What a stranger reads until the listener hangs up on it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    said = b""
    try:
        writer.write(send)
        async with asyncio.timeout(DEADLINE):
            while chunk := await reader.read(4096):
                said += chunk
    except ConnectionResetError:  # it hung up with our bytes unread
        pass
    finally:
        writer.close()
    return said


async def test_strangers_get_a_nonce_and_are_hung_up_on(monkeypatch) -> None:
    monkeypatch.setattr(direct, "AUTH_TIMEOUT", 0.5)
    listener = await _listener()
    try:
        accepting = asyncio.ensure_future(listener.accept(KEY))
        port = listener.hints[0][1]
        silent, junk, almost, flood = await asyncio.gather(
            _stranger(port, b""),
            _stranger(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(100)),
            _stranger(port, HELLO_PREFIX + bytes(16) + bytes(PROOF_SIZE)),
            _stranger(port, os.urandom(1_000_000)),
        )
        for said in (silent, junk, almost, flood):
            assert len(said) == HELLO_SIZE and said.startswith(HELLO_PREFIX)  # no proof
        assert not accepting.done()
        connected = await asyncio.wait_for(connect_direct(listener.hints, KEY), DEADLINE)
        accepted = await asyncio.wait_for(accepting, DEADLINE)
        await asyncio.gather(accepted.close(), connected.close())
    finally:
        await listener.close()


async def test_the_listener_takes_a_bounded_number_of_connections(monkeypatch) -> None:
    monkeypatch.setattr(direct, "AUTH_TIMEOUT", 0.2)
    listener = await _listener()
    try:
        port = listener.hints[0][1]
        for _ in range(direct.MAX_CONNECTIONS):
            await _stranger(port, b"")
        assert await _stranger(port, b"") == b""  # not even a nonce any more
        assert listener.connections == direct.MAX_CONNECTIONS
        with pytest.raises(TransportError):
            await asyncio.wait_for(connect_direct(listener.hints, KEY), DEADLINE)
    finally:
        await listener.close()


async def test_a_closed_listener_no_longer_listens_and_drops_an_untaken_link() -> None:
    listener = await _listener()
    connected = await asyncio.wait_for(
        asyncio.gather(listener.accept(KEY), connect_direct(listener.hints, KEY)), DEADLINE
    )
    listener._taken = False  # as if the pairing chose WebRTC after all
    await listener.close()
    with pytest.raises(PeerLost):
        await connected[1].recv(DEADLINE)
    with pytest.raises(TransportError):
        await asyncio.wait_for(connect_direct(listener.hints, KEY), DEADLINE)


async def test_connecting_to_dead_hints_fails_quickly_and_clearly() -> None:
    hints = [("127.0.0.1", free_tcp_port()), ("127.0.0.1", free_tcp_port())]
    with pytest.raises(TransportError, match="direct connection"):
        await asyncio.wait_for(connect_direct(hints, KEY), DEADLINE)
    with pytest.raises(TransportError):
        await connect_direct([], KEY)


def test_where_we_listen() -> None:
    assert local_hint_addresses(True) == ["127.0.0.1"]
    found = local_hint_addresses(False)
    assert len(found) <= 8
    for address in found:
        assert hint_address_allowed(address) and not ipaddress.ip_address(address).is_loopback
