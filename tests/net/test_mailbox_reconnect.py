"""A dropped connection to the mailbox server is reopened and pairing completes
(issue 15 §3): a loopback TCP proxy between one side and the real embedded server
cuts every connection the moment a given frame passes (before ``claim``, after
``pake``, after ``version``, during ``offer``/``answer``); the side reconnects with
the same side id, reopens its mailbox, and nothing is delivered twice."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import pytest

from p2pchat.core.errors import TransportError
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from tests.net.conftest import APPID

DEADLINE = 30.0


class CuttingProxy:
    """127.0.0.1 TCP proxy to ``upstream``; cuts all its connections when ``trigger``
    first passes from the server to the client, and then optionally refuses more."""

    def __init__(self, upstream: str, trigger: bytes, refuse_after_cut: bool = False) -> None:
        self.upstream_port = int(upstream.rsplit(":", 1)[1].split("/")[0])
        self.trigger = trigger
        self.refuse_after_cut = refuse_after_cut
        self.cuts = 0
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._cut()

    def _cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse_after_cut and self.cuts:
            writer.transport.abort()
            return
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(
            self._pump(reader, up_writer, watch=False),
            self._pump(up_reader, writer, watch=True),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: bool
    ) -> None:
        tail = b""
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
                if watch and not self.cuts:
                    # Server frames are unmasked JSON: the trigger is visible as is.
                    if self.trigger in tail + chunk:
                        self.cuts += 1
                        await asyncio.sleep(0)
                        self._cut()
                        return
                    tail = chunk[-len(self.trigger) :]
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


def config(url: str, label: str) -> ServiceConfig:
    return ServiceConfig(mailbox_url=url, ice=IceSettings(), loopback=True, label=label)


async def states_of(service: ChatService, until: type[ev.ServiceEvent]) -> list[str]:
    """The ConnectionChanged states the service emitted until an ``until`` event."""
    states = []
    while True:
        event = await asyncio.wait_for(service.next_event(), DEADLINE)
        if isinstance(event, ev.ConnectionChanged):
            states.append(event.state)
        if isinstance(event, until | ev.Failed):
            assert isinstance(event, until), event
            return states


@pytest.mark.parametrize(
    ("trigger", "cut_side"),
    [
        (b'"type": "allocated"', "inviter"),  # before the claim: waiting for the peer
        (b'"phase": "pake"', "inviter"),
        (b'"phase": "version"', "inviter"),
        (b'"phase": "offer"', "inviter"),
        # After the offer the answer is still to cross (a cut after the answer can come
        # when a side has all it needs and has closed its mailbox: nothing to reconnect).
        (b'"phase": "offer"', "joiner"),
        (b'"type": "claimed"', "joiner"),
    ],
)
async def test_pairing_completes_when_the_mailbox_connection_is_cut(
    embedded_mailbox: str, trigger: bytes, cut_side: str
) -> None:
    async with CuttingProxy(embedded_mailbox, trigger) as proxy:
        urls = {"inviter": embedded_mailbox, "joiner": embedded_mailbox, cut_side: proxy.url}
        alice = ChatService(config(urls["inviter"], "alice"))
        bob = ChatService(config(urls["joiner"], "bob"))
        cut = alice if cut_side == "inviter" else bob
        try:
            watching = asyncio.ensure_future(states_of(cut, ev.Paired))
            await bob.join(await asyncio.wait_for(alice.invite(), DEADLINE))
            await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
            states = await asyncio.wait_for(watching, DEADLINE)
            assert proxy.cuts == 1 and proxy.connections >= 2
            assert "reconnecting" in states
            assert states.index("reconnecting") < states.index("connected")
            await alice.send_text("after the cut")
            while not isinstance(event := await bob.next_event(), ev.TextReceived):
                pass
            assert event.text == "after the cut"
        finally:
            await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


async def test_replayed_messages_are_delivered_once_and_lost_adds_are_re_added(
    embedded_mailbox: str,
) -> None:
    await replay_once(embedded_mailbox)


async def test_the_reconnect_works_against_the_real_wormhole_server(
    real_mailbox_server: str,
) -> None:
    await replay_once(real_mailbox_server)


async def replay_once(embedded_mailbox: str) -> None:
    """Cut the joiner after its first message; it reconnects as the protocol intends."""
    async with CuttingProxy(embedded_mailbox, b'"phase": "first"') as proxy:
        inviter = await MailboxClient.connect(embedded_mailbox, APPID, timeout=5)
        nameplate = await inviter.allocate()
        mailbox = await inviter.claim(nameplate)
        await inviter.open(mailbox)
        joiner = await MailboxClient.connect(proxy.url, APPID, timeout=5, reconnect_within=10)
        side = joiner.side
        states: list[bool] = []
        joiner.on_reconnecting = states.append
        await joiner.open(await joiner.claim(nameplate))
        await inviter.add("first", b"1")
        assert (await joiner.next_message(5)).body == b"1"  # the cut follows this frame
        await joiner.add("reply", b"sent while cut")  # waits for the reconnect
        await inviter.add("second", b"2")
        # The reopened mailbox replays "first": it must not arrive twice.
        assert (await joiner.next_message(5)).phase == "second"
        assert (await inviter.next_message(5)).body == b"sent while cut"
        assert proxy.cuts == 1 and states == [True, False] and joiner.side == side
        with pytest.raises(Exception, match="No message"):
            await inviter.next_message(0.3)  # and our own message once only
        for client in (inviter, joiner):
            await client.close()


async def test_a_server_unreachable_past_the_limit_fails_saying_so(embedded_mailbox: str) -> None:
    async with CuttingProxy(embedded_mailbox, b'"type": "claimed"', refuse_after_cut=True) as proxy:
        client = await MailboxClient.connect(proxy.url, APPID, timeout=2, reconnect_within=1.5)
        mailbox = await client.claim("5")  # cut right after this reply
        with pytest.raises(TransportError, match=r"could not reconnect within 1.5 s"):
            await client.open(mailbox)
            await client.next_message(DEADLINE)
        await client.close()


async def test_the_joiner_is_not_told_nobody_joined_when_the_inviter_lost_the_server(
    embedded_mailbox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import p2pchat.service.pairing_flow as pairing_flow

    monkeypatch.setattr(pairing_flow, "CONNECT_TIMEOUT", 1.0)  # the joiner waits 3 s
    monkeypatch.setattr(pairing_flow, "MAILBOX_RECONNECT_WITHIN", 0.5)
    proxy = CuttingProxy(embedded_mailbox, b'"phase": "pake"', refuse_after_cut=True)
    async with proxy:
        alice = ChatService(config(proxy.url, "alice"))
        bob = ChatService(config(embedded_mailbox, "bob"))
        try:
            code = await asyncio.wait_for(alice.invite(), DEADLINE)
            failures: dict[str, Any] = {}

            async def failure_of(name: str, service: ChatService) -> None:
                while not isinstance(event := await service.next_event(), ev.Failed):
                    pass
                failures[name] = event

            watchers = [
                asyncio.ensure_future(failure_of("alice", alice)),
                asyncio.ensure_future(failure_of("bob", bob)),
            ]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watchers[0]), 5)
            await bob.join(code)
            await asyncio.wait_for(asyncio.gather(*watchers), DEADLINE)
        finally:
            await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)
    assert "could not reconnect" in failures["alice"].message
    assert failures["alice"].exit_code == 4
    assert "did not join" not in failures["bob"].message
    assert "the other person joined" in failures["bob"].message


@pytest.mark.parametrize("trigger", [b'"type": "claimed"', b'"type": "message"'])
async def test_a_pinned_reconnect_survives_a_cut_mailbox_connection(
    embedded_mailbox: str, trigger: bytes
) -> None:
    alice = ChatService(config(embedded_mailbox, "alice"))
    bob = ChatService(config(embedded_mailbox, "bob"))
    await bob.join(await asyncio.wait_for(alice.invite(), DEADLINE))
    await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
    psk = alice.reconnect_psk
    assert psk is not None and psk == bob.reconnect_psk
    await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)

    async with CuttingProxy(embedded_mailbox, trigger) as proxy:
        again_a = ChatService(
            dataclasses.replace(config(proxy.url, "alice"), identity=alice.identity)
        )
        again_b = ChatService(
            dataclasses.replace(config(embedded_mailbox, "bob"), identity=bob.identity)
        )
        try:
            watching = asyncio.ensure_future(states_of(again_a, ev.Paired))
            await again_a.reconnect(psk, bytes(bob.identity.verify_key))
            await again_b.reconnect(psk, bytes(alice.identity.verify_key))
            await asyncio.gather(again_a.wait_paired(DEADLINE), again_b.wait_paired(DEADLINE))
            assert "reconnecting" in await asyncio.wait_for(watching, DEADLINE)
            assert proxy.cuts == 1
        finally:
            await asyncio.wait_for(asyncio.gather(again_a.close(), again_b.close()), DEADLINE)
