"""The direct TCP path between two real ChatServices on 127.0.0.1 (service/direct_race.py).

The embedded mailbox server; real listeners, real connections, real aiortc when
WebRTC takes over. Only the environment is bent: a listener whose port is closed
(a dead hint), strangers knocking on it, a peer whose version names foreign or
malformed hints.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from p2pchat.core.handshake import pairing as pairing_module
from p2pchat.net.direct import DirectListener, connect_direct
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig, direct_race
from p2pchat.service import events as ev
from tests.paired_services import next_of, pair

DEADLINE = 40.0


def config(mailbox: str, label: str, *, direct: bool = True, **ice: object) -> ServiceConfig:
    return ServiceConfig(
        mailbox_url=mailbox,
        ice=IceSettings(**ice),  # type: ignore[arg-type]
        loopback=True,
        label=label,
        direct_tcp=direct,
        transit_after=1.0,
    )


async def talk(alice: ChatService, bob: ChatService) -> None:
    await alice.send_text("hello")
    assert (await next_of(bob, ev.TextReceived)).text == "hello"  # type: ignore[attr-defined]
    await bob.send_text("and back")
    assert (await next_of(alice, ev.TextReceived)).text == "and back"  # type: ignore[attr-defined]


async def pair_and_talk(mailbox: str, kind: str) -> None:
    """Alice and Bob pair with direct TCP on; both name ``kind`` as their path and talk."""
    async with pair(config(mailbox, "alice"), config(mailbox, "bob")) as (alice, bob, a, b):
        assert a.connection == b.connection == kind
        await talk(alice, bob)


@pytest.fixture
def listeners(monkeypatch: pytest.MonkeyPatch) -> list[DirectListener]:
    """Every listener the services open (the real ones)."""
    opened: list[DirectListener] = []
    real = direct_race.open_listener

    async def recording(loopback: bool) -> DirectListener:
        listener = await real(loopback)
        opened.append(listener)
        return listener

    monkeypatch.setattr(direct_race, "open_listener", recording)
    return opened


async def test_two_sides_with_direct_pair_over_tcp_and_leave_the_mailbox(
    embedded_mailbox: str, listeners: list[DirectListener]
) -> None:
    async with pair(config(embedded_mailbox, "alice"), config(embedded_mailbox, "bob")) as (
        alice,
        bob,
        a_paired,
        b_paired,
    ):
        assert a_paired.connection == b_paired.connection == "lan"
        assert a_paired.safety_number == b_paired.safety_number
        assert alice._mailbox is None and bob._mailbox is None
        await talk(alice, bob)
        assert len(listeners) == 1  # the leader's: the answerer only connects
        for listener in listeners:  # the chosen link is up: nobody listens any more
            with pytest.raises(OSError):
                await asyncio.open_connection(*listener.hints[0])


@pytest.mark.parametrize("who", ["inviter", "joiner"])
async def test_a_peer_without_direct_pairs_over_webrtc(embedded_mailbox: str, who: str) -> None:
    async with pair(
        config(embedded_mailbox, "alice", direct=who == "inviter"),
        config(embedded_mailbox, "bob", direct=who == "joiner"),
    ) as (alice, bob, a_paired, b_paired):
        assert a_paired.connection == b_paired.connection == "direct"  # WebRTC, host path
        await talk(alice, bob)


async def test_dead_hints_fall_back_to_webrtc(
    embedded_mailbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = direct_race.open_listener

    async def dead(loopback: bool) -> DirectListener:
        listener = await real(loopback)
        for server in listener._servers:  # the hints now name a port nobody listens on
            server.close()
        return listener

    monkeypatch.setattr(direct_race, "open_listener", dead)
    await pair_and_talk(embedded_mailbox, "direct")


async def test_strangers_at_the_listener_do_not_disturb_the_pairing(
    embedded_mailbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = direct_race.open_listener
    strangers: list[asyncio.Future[object]] = []

    async def knock(hint: tuple[str, int]) -> object:
        await connect_direct([hint], os.urandom(32))  # refused: it has no key
        return "got in"

    async def junk(hint: tuple[str, int]) -> bytes:
        reader, writer = await asyncio.open_connection(*hint)
        writer.write(b"\x00" * 70_000)
        try:
            return await reader.read()
        finally:
            writer.close()

    async def knocked(loopback: bool) -> DirectListener:
        listener = await real(loopback)
        for hint in listener.hints:
            strangers.append(asyncio.ensure_future(knock(hint)))
            strangers.append(asyncio.ensure_future(junk(hint)))
        await asyncio.sleep(0.05)  # they are there before the peer
        return listener

    monkeypatch.setattr(direct_race, "open_listener", knocked)
    await pair_and_talk(embedded_mailbox, "lan")
    results = await asyncio.wait_for(asyncio.gather(*strangers, return_exceptions=True), 20)
    assert "got in" not in results


async def test_a_peer_naming_foreign_addresses_pairs_over_webrtc(
    embedded_mailbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Modified peers name public and unusable addresses: they are never tried.

    Both sides are modified, since only the leader's hints are used and the roles
    follow the random side ids.
    """

    def hostile_first(hints: object) -> list[list[object]]:
        return [["8.8.8.8", 443], ["224.0.0.1", 9], ["fe80::1%lo", 1], ["10.0.0.1", 1]]

    monkeypatch.setattr(pairing_module, "encode_direct_hints", hostile_first)
    # Loopback mode connects to loopback hints only: nothing was left to try.
    await pair_and_talk(embedded_mailbox, "direct")


@pytest.mark.parametrize(
    ("direct", "said"),
    [
        ([["127.0.0.1", "80"]], "direct hint"),  # wrong types
        ([["127.0.0.1", 1]] * 9, "direct hint"),  # too many
        ("127.0.0.1:80", "direct hint"),
        ([["127.0.0.1", 0]], "direct hint"),
        ([["1" * 1500, 80]], "direct hint"),  # long (a huge version: tests/core)
    ],
)
async def test_a_peer_with_malformed_hints_fails_the_pairing_clearly(
    embedded_mailbox: str, monkeypatch: pytest.MonkeyPatch, direct: object, said: str
) -> None:
    """Both peers are modified (the roles, hence who names hints, follow random ids)."""
    monkeypatch.setattr(pairing_module, "encode_direct_hints", lambda hints: direct)
    alice = ChatService(config(embedded_mailbox, "alice"))
    bob = ChatService(config(embedded_mailbox, "bob"))
    try:
        await bob.join(await alice.invite())
        # Each side sent its version before it read the other's: both refuse it.
        for side in (alice, bob):
            failed = await next_of(side, ev.Failed)
            assert failed.reason == "remote_protocol"  # type: ignore[attr-defined]
            assert said in failed.message  # type: ignore[attr-defined]
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


async def test_without_direct_tcp_nobody_listens(
    embedded_mailbox: str, listeners: list[DirectListener]
) -> None:
    async with pair(
        config(embedded_mailbox, "alice", direct=False),
        config(embedded_mailbox, "bob", direct=False),
    ) as (_, _, a_paired, _):
        assert a_paired.connection == "direct"
    assert listeners == []


async def test_relay_only_never_listens(
    embedded_mailbox: str, transit_relay: str, listeners: list[DirectListener]
) -> None:
    """Relay-only hides our addresses from the peer: no hint may name one."""
    hidden = {"relay_only": True, "transit_relay": transit_relay}
    async with pair(
        config(embedded_mailbox, "alice", **hidden), config(embedded_mailbox, "bob", **hidden)
    ) as (alice, bob, a_paired, b_paired):
        assert a_paired.connection == b_paired.connection == "transit"
        await talk(alice, bob)
    assert listeners == []


async def test_both_sides_close_the_mailbox_when_the_direct_path_wins() -> None:
    """Nobody waits there for an SDP that never comes: the server deletes the mailbox."""
    from p2pchat.net.mailbox_server import MailboxServer

    server = MailboxServer()
    url = await server.start()
    try:
        async with pair(config(url, "alice"), config(url, "bob")) as (_, _, a_paired, _):
            assert a_paired.connection == "lan"
            for _ in range(200):
                if server.snapshot().mailboxes == 0:
                    break
                await asyncio.sleep(0.05)
            assert server.snapshot().mailboxes == 0
    finally:
        await server.stop()
