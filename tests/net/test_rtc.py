"""RtcLink over real aiortc on 127.0.0.1: two links in one process, SDPs passed directly."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os

import aioice.ice
import pytest
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from p2pchat.core.errors import (
    LocalProtocolError,
    PeerLost,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.core.keys import Channel
from p2pchat.net import rtc
from p2pchat.net.rtc import (
    SEND_BUFFER_LIMIT,
    IceSettings,
    RtcLink,
    ice_configuration,
    loopback_only,
    turn_rest_credentials,
)

OPEN_TIMEOUT = 10


def candidate_fields(sdp: str) -> list[list[str]]:
    return [line.split() for line in sdp.splitlines() if line.startswith("a=candidate:")]


async def connect(a: RtcLink, b: RtcLink) -> tuple[str, str]:
    offer = await a.create_offer()
    answer = await b.accept_offer(offer)
    await a.accept_answer(answer)
    await asyncio.gather(a.wait_open(OPEN_TIMEOUT), b.wait_open(OPEN_TIMEOUT))
    return offer, answer


@pytest.fixture
async def pair():
    a, b = RtcLink(IceSettings(), loopback=True), RtcLink(IceSettings(), loopback=True)
    await connect(a, b)
    yield a, b
    await a.close()
    await b.close()


# ------------------------------------------------------------------- configuration


def test_default_configuration_is_explicitly_empty():
    config = ice_configuration(IceSettings())
    assert config.iceServers == []
    assert config.iceTransportPolicy is RTCIceTransportPolicy.ALL


def test_relay_only_without_turn_is_refused():
    with pytest.raises(TransportError, match="TURN server"):
        ice_configuration(IceSettings(relay_only=True))
    with pytest.raises(TransportError, match="TURN server"):
        RtcLink(IceSettings(relay_only=True), loopback=True)


def test_relay_only_uses_the_enum_policy():
    config = ice_configuration(
        IceSettings(
            turn_url="turn:127.0.0.1:3478", turn_username="u", turn_credential="p", relay_only=True
        )
    )
    assert config.iceTransportPolicy is RTCIceTransportPolicy.RELAY
    assert [s.urls for s in config.iceServers] == ["turn:127.0.0.1:3478"]


@pytest.mark.parametrize(
    "settings",
    [
        IceSettings(stun_urls=("stuns:127.0.0.1",)),  # aioice would silently drop it
        IceSettings(stun_urls=("http://127.0.0.1",)),
        IceSettings(
            turn_url="turn:127.0.0.1?transport=sctp", turn_username="u", turn_credential="p"
        ),
        IceSettings(turn_url="turn:127.0.0.1"),  # no credentials
    ],
)
def test_unusable_servers_are_refused(settings):
    with pytest.raises(TransportError):
        ice_configuration(settings)


def test_turn_rest_credentials_follow_coturn():
    username, credential = turn_rest_credentials("s3cret", ttl_seconds=60, now=lambda: 1000.0)
    assert username == "1060:p2pchat"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1060:p2pchat", hashlib.sha1).digest())
    assert credential == expected.decode()
    config = ice_configuration(
        IceSettings(turn_url="turn:127.0.0.1:3478", turn_secret="s3cret"), now=lambda: 1000.0
    )
    server = config.iceServers[0]
    assert server.username.endswith(":p2pchat")
    assert (
        server.credential
        == base64.b64encode(
            hmac.new(b"s3cret", server.username.encode(), hashlib.sha1).digest()
        ).decode()
    )


def test_loopback_link_refuses_outside_servers():
    # Refused at construction, before anything could be sent to 192.0.2.1.
    with pytest.raises(TransportError, match="Loopback"):
        RtcLink(IceSettings(stun_urls=("stun:192.0.2.1:3478",)), loopback=True)


# ------------------------------------------------------------------ the open link


async def test_messages_both_ways_on_both_channels(pair):
    a, b = pair
    await a.send(Channel.CONTROL, b"a-control")
    await a.send(Channel.DATA, b"a-data")
    await b.send(Channel.DATA, b"b-data")
    await b.send(Channel.CONTROL, b"")
    got_b = {await b.recv(timeout=5), await b.recv(timeout=5)}
    got_a = {await a.recv(timeout=5), await a.recv(timeout=5)}
    assert got_b == {(Channel.CONTROL, b"a-control"), (Channel.DATA, b"a-data")}
    assert got_a == {(Channel.DATA, b"b-data"), (Channel.CONTROL, b"")}
    assert a.connection_kind == b.connection_kind == "direct"
    assert a.writable()


async def test_sdps_carry_only_loopback_host_candidates():
    a, b = RtcLink(IceSettings(), loopback=True), RtcLink(IceSettings(), loopback=True)
    try:
        offer, answer = await connect(a, b)
        for sdp in (offer, answer):
            candidates = candidate_fields(sdp)
            assert candidates
            assert {c[4] for c in candidates} == {"127.0.0.1"}
            assert {c[7] for c in candidates} == {"host"}
    finally:
        await a.close()
        await b.close()


async def test_default_link_never_asks_a_stun_server(monkeypatch):
    asked = []
    original = aioice.ice.server_reflexive_candidate

    async def spy(protocol, stun_server):
        asked.append(stun_server)
        return await original(protocol, stun_server)

    monkeypatch.setattr(aioice.ice, "server_reflexive_candidate", spy)
    with loopback_only():
        # loopback=False: the process-wide loopback_only() does the restricting here.
        a, b = RtcLink(), RtcLink()
        try:
            assert a.configuration.iceServers == []
            offer, answer = await connect(a, b)
        finally:
            await a.close()
            await b.close()
    assert asked == []
    for sdp in (offer, answer):
        types = {c[7] for c in candidate_fields(sdp)}
        assert "srflx" not in types
        assert {c[4] for c in candidate_fields(sdp)} == {"127.0.0.1"}


async def test_bulk_transfer_is_intact_ordered_and_backpressured(pair):
    a, b = pair
    payload = os.urandom(5 * 1024 * 1024)
    chunk = 60 * 1024
    observed_peak = 0

    async def sender():
        nonlocal observed_peak
        for offset in range(0, len(payload), chunk):
            await a.send(Channel.DATA, payload[offset : offset + chunk])
            observed_peak = max(observed_peak, a.buffered_amount)

    async def receiver() -> bytes:
        parts, size = [], 0
        while size < len(payload):
            channel, data = await b.recv(timeout=30)
            assert channel is Channel.DATA
            parts.append(data)
            size += len(data)
        return b"".join(parts)

    _, received = await asyncio.gather(sender(), receiver())
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert observed_peak <= SEND_BUFFER_LIMIT + chunk
    assert a.peak_buffered_amount <= SEND_BUFFER_LIMIT + chunk
    # The sender outran SCTP, so the limit was actually what held it back.
    assert a.peak_buffered_amount > SEND_BUFFER_LIMIT // 2


async def test_drain_delivers_everything_before_close(pair):
    a, b = pair
    payload = os.urandom(1024 * 1024)
    for offset in range(0, len(payload), 60 * 1024):
        await a.send(Channel.DATA, payload[offset : offset + 60 * 1024])
    assert await a.drain(timeout=20)
    assert a.buffered_amount == 0
    await a.close()
    parts = []
    while True:
        try:
            parts.append((await b.recv(timeout=10))[1])
        except PeerLost:
            break
    assert b"".join(parts) == payload


async def test_peer_closing_fires_closed(pair):
    a, b = pair
    reasons = []
    b.on_closed(reasons.append)
    await a.close()
    await asyncio.wait_for(b.closed.wait(), 10)
    assert isinstance(b.close_reason, PeerLost)
    assert reasons == [b.close_reason]
    with pytest.raises(PeerLost):
        await b.recv(timeout=1)
    with pytest.raises(TransportError):
        await b.send(Channel.CONTROL, b"too late")
    await a.close()  # idempotent
    assert a.closed.is_set()


async def test_flooding_peer_is_cut_off():
    a = RtcLink(IceSettings(), loopback=True)
    b = RtcLink(IceSettings(), loopback=True, recv_buffer_limit=256 * 1024)
    try:
        await connect(a, b)
        try:
            for _ in range(10):  # 600 KiB that b never reads
                await a.send(Channel.DATA, bytes(60 * 1024))
        except PeerLost:
            pass  # b cut a off before a queued the rest: a fast sender gets that far
        await asyncio.wait_for(b.closed.wait(), 10)
        assert isinstance(b.close_reason, RemoteProtocolError)
        assert b._inbox.queued_bytes == 0  # the backlog was dropped, not kept
        await asyncio.wait_for(a.closed.wait(), 10)
    finally:
        await a.close()
        await b.close()


async def test_malformed_sdp_is_a_remote_protocol_error():
    link = RtcLink(IceSettings(), loopback=True)
    try:
        with pytest.raises(RemoteProtocolError):
            await link.accept_offer("v=0\r\nm=application nonsense\r\n")
        with pytest.raises(RemoteProtocolError):
            await link.accept_offer("x" * (rtc.MAX_SDP_CHARS + 1))
    finally:
        await link.close()


async def test_send_before_open_is_a_local_error():
    link = RtcLink(IceSettings(), loopback=True)
    try:
        with pytest.raises(LocalProtocolError):
            await link.send(Channel.CONTROL, b"early")
        assert link.connection_kind == "unknown"
    finally:
        await link.close()


async def test_wait_open_times_out_with_a_transport_error():
    a = RtcLink(IceSettings(), loopback=True)
    try:
        await a.create_offer()  # nobody answers
        with pytest.raises(TransportError, match="No direct path"):
            await a.wait_open(0.3)
    finally:
        await a.close()


def test_loop_helper_runs_on_uvloop_when_installed():
    from p2pchat.net import loop

    async def which() -> str:
        return type(asyncio.get_running_loop()).__module__

    module = loop.run(which())
    assert module.startswith("uvloop") == loop.uvloop_available()
    fresh = loop.new_event_loop()
    try:
        assert isinstance(fresh, asyncio.AbstractEventLoop)
    finally:
        fresh.close()
