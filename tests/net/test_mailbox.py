"""MailboxClient against our embedded server, and against hostile scripted servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from p2pchat.core.errors import (
    LocalProtocolError,
    P2PChatError,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.net.mailbox import MailboxClient, MailboxMessage, MailboxTimeout
from tests.conftest import free_tcp_port
from tests.net.conftest import APPID, assert_third_side_refused, open_pair


async def test_two_clients_exchange_messages_both_ways(embedded_mailbox: str) -> None:
    inviter, joiner, _ = await open_pair(embedded_mailbox)
    assert inviter.side != joiner.side
    await inviter.add("pake", b"\x00from inviter\xff")
    await joiner.add("pake", b"from joiner")
    await joiner.add("version", b"")

    assert await joiner.next_message(5) == MailboxMessage(
        inviter.side, "pake", b"\x00from inviter\xff"
    )
    # The inviter's own `pake` echo is dropped: only the joiner's messages arrive.
    assert await inviter.next_message(5) == MailboxMessage(joiner.side, "pake", b"from joiner")
    assert await inviter.next_message(5) == MailboxMessage(joiner.side, "version", b"")
    with pytest.raises(MailboxTimeout):
        await inviter.next_message(0.2)
    await inviter.close("happy")
    await joiner.close("happy")


async def test_messages_added_before_the_peer_opens_are_delivered(embedded_mailbox: str) -> None:
    inviter = await MailboxClient.connect(embedded_mailbox, APPID, timeout=5)
    nameplate = await inviter.allocate()
    mailbox = await inviter.claim(nameplate)
    await inviter.open(mailbox)
    await inviter.add("pake", b"early")

    joiner = await MailboxClient.connect(embedded_mailbox, APPID, timeout=5)
    await joiner.open(await joiner.claim(nameplate))
    message = await joiner.next_message(5)
    assert (message.phase, message.body) == ("pake", b"early")
    await inviter.close()
    await joiner.close()


async def test_nameplate_is_freed_after_both_release_and_reusable(start_mailbox: Any) -> None:
    embedded_mailbox = (await start_mailbox(allow_list=True)).url
    inviter, joiner, nameplate = await open_pair(embedded_mailbox)
    old_mailbox = inviter.mailbox
    await inviter.release()
    assert nameplate in await joiner.list_nameplates()  # the joiner still holds it
    await joiner.release()
    assert nameplate not in await joiner.list_nameplates()
    await inviter.close()
    await joiner.close()

    again = await MailboxClient.connect(embedded_mailbox, APPID, timeout=5)
    new_mailbox = await again.claim(nameplate)
    assert new_mailbox != old_mailbox
    await again.close("lonely")


async def test_third_side_is_told_the_code_is_crowded(embedded_mailbox: str) -> None:
    await assert_third_side_refused(embedded_mailbox, "crowded")


async def test_misuse_is_a_local_protocol_error(embedded_mailbox: str) -> None:
    inviter, joiner, _ = await open_pair(embedded_mailbox)
    await inviter.add("pake", b"once")
    with pytest.raises(LocalProtocolError):
        await inviter.add("pake", b"twice")
    with pytest.raises(LocalProtocolError):
        await inviter.add("big", bytes(25 * 1024))
    with pytest.raises(LocalProtocolError):
        await inviter.allocate()  # already allocated on this connection
    with pytest.raises(LocalProtocolError):
        await inviter.close("grumpy")  # type: ignore[arg-type]
    fresh = await MailboxClient.connect(embedded_mailbox, APPID, timeout=5)
    with pytest.raises(LocalProtocolError):
        await fresh.claim("12-not-a-nameplate")
    for client in (inviter, joiner, fresh):
        await client.close()


async def test_welcome_motd_is_surfaced(start_mailbox: Any) -> None:
    server = await start_mailbox(motd="maintenance at\x1b[31m noon")
    client = await MailboxClient.connect(server.url, APPID, timeout=5)
    assert client.motd == "maintenance at?[31m noon"
    await client.close()


async def test_unreachable_url_is_a_transport_error_with_a_fix() -> None:
    url = f"ws://127.0.0.1:{free_tcp_port()}/v1"
    with pytest.raises(TransportError) as caught:
        await MailboxClient.connect(url, APPID, timeout=3)
    message = str(caught.value)
    assert url in message
    assert "--mailbox" in message and "P2PCHAT_MAILBOX" in message and "p2pchat mailbox" in message


async def test_not_a_mailbox_url_is_refused_before_connecting() -> None:
    from p2pchat.core.exit_status import EXIT_USAGE

    for url in ("http://127.0.0.1:1/v1", "ws://", "ws://host:99999/v1", "mailbox"):
        with pytest.raises(P2PChatError, match="ws://HOST:PORT/v1") as refused:
            await MailboxClient.connect(url, APPID, timeout=1)
        assert refused.value.exit_code == EXIT_USAGE  # a usage error, not a bug (1)


async def test_wrong_path_is_a_transport_error(embedded_mailbox: str) -> None:
    with pytest.raises(TransportError, match="404"):
        await MailboxClient.connect(embedded_mailbox.replace("/v1", "/nope"), APPID, timeout=3)


async def test_server_going_away_wakes_the_waiting_reader(start_mailbox: Any) -> None:
    server = await start_mailbox()
    inviter, joiner, _ = await open_pair(server.url)
    waiting = asyncio.ensure_future(inviter.next_message(30))
    await asyncio.sleep(0)
    await server.stop()
    with pytest.raises(TransportError, match="Lost the connection"):
        await waiting
    with pytest.raises(TransportError):
        await inviter.add("pake", b"x")
    # close() is best effort: it does not raise once the server is gone.
    await inviter.close()
    await joiner.close()
    assert not inviter.connected


# ------------------------------------------------------------ hostile servers

Script = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture
async def scripted_server() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    """A WebSocket server that runs ``script`` per connection (a misbehaving mailbox)."""
    servers = []

    async def start(script: Script) -> str:
        server = await serve(script, "127.0.0.1", 0, compression=None)
        servers.append(server)
        return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _welcome_and_serve(
    ws: ServerConnection, on_command: Callable[[dict[str, Any]], list[Any]]
) -> None:
    await ws.send(json.dumps({"type": "welcome", "welcome": {}}))
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            for reply in on_command(json.loads(raw)):
                await ws.send(json.dumps(reply))


def _polite(extra: Callable[[dict[str, Any]], list[Any]]) -> Callable[[dict[str, Any]], list[Any]]:
    """Answer pings and closes (so connect/open/close succeed) and add ``extra``'s frames."""

    def on_command(command: dict[str, Any]) -> list[Any]:
        replies = []
        if command["type"] == "ping":
            replies.append({"type": "pong", "pong": command["ping"]})
        if command["type"] == "close":
            replies.append({"type": "closed"})
        return replies + extra(command)

    return on_command


async def _connected_and_opened(url: str) -> MailboxClient:
    client = await MailboxClient.connect(url, APPID, timeout=2)
    await client.open("mbx")
    return client


@pytest.mark.parametrize(
    ("injected", "expected"),
    [
        ({"type": "message", "side": "peer", "phase": "pake", "body": "zz"}, "malformed"),
        ({"type": "message", "side": "peer", "phase": "pake", "body": "0 1"}, "malformed"),
        ({"type": "message", "side": "peer", "phase": 7, "body": "00"}, "malformed"),
        ({"type": "message", "side": "p" * 65, "phase": "pake", "body": "00"}, "malformed"),
        (b"\x00binary", "binary"),
        ("{not json", "invalid JSON"),
        ([1, 2], "without a type"),
    ],
)
async def test_hostile_frames_are_remote_protocol_errors(
    scripted_server: Any, injected: Any, expected: str
) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "welcome", "welcome": {}}))
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                command = json.loads(raw)
                if command["type"] == "open":
                    frame = injected if isinstance(injected, bytes | str) else json.dumps(injected)
                    await ws.send(frame)
                if command["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong", "pong": command["ping"]}))

    url = await scripted_server(script)
    client = await MailboxClient.connect(url, APPID, timeout=2)
    with pytest.raises(RemoteProtocolError, match=expected):
        await client.open("mbx")
        await client.next_message(2)
    await client.close()


async def test_messages_from_two_other_sides_are_refused(scripted_server: Any) -> None:
    def extra(command: dict[str, Any]) -> list[Any]:
        if command["type"] == "open":
            return [{"type": "message", "side": "peer1", "phase": "pake", "body": "01"}]
        if command["type"] == "add":
            return [{"type": "message", "side": "peer2", "phase": "pake", "body": "02"}]
        return []

    url = await scripted_server(lambda ws: _welcome_and_serve(ws, _polite(extra)))
    client = await _connected_and_opened(url)
    assert (await client.next_message(2)).body == b"\x01"
    await client.add("pake", b"mine")
    with pytest.raises(RemoteProtocolError, match="more than one other side"):
        await client.next_message(2)
    await client.close()


async def test_redelivered_phases_are_deduplicated(scripted_server: Any) -> None:
    message = {"type": "message", "side": "peer", "phase": "pake", "body": "01", "id": "a"}

    def extra(command: dict[str, Any]) -> list[Any]:
        if command["type"] == "open":
            return [message, {**message, "id": "b"}, {**message, "phase": "version", "body": "02"}]
        return []

    url = await scripted_server(lambda ws: _welcome_and_serve(ws, _polite(extra)))
    client = await _connected_and_opened(url)
    assert (await client.next_message(2)).phase == "pake"
    assert (await client.next_message(2)).phase == "version"
    await client.close()


async def test_server_error_fails_the_request_it_names(scripted_server: Any) -> None:
    def extra(command: dict[str, Any]) -> list[Any]:
        if command["type"] == "allocate":
            return [{"type": "error", "error": "no \x07room", "orig": command}]
        return []

    url = await scripted_server(lambda ws: _welcome_and_serve(ws, _polite(extra)))
    client = await MailboxClient.connect(url, APPID, timeout=2)
    with pytest.raises(P2PChatError, match=r"refused 'allocate': no \?room"):
        await client.allocate()
    await client.close()


async def test_welcome_error_refuses_service(scripted_server: Any) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "welcome", "welcome": {"error": "closed for repairs"}}))
        await ws.wait_closed()

    url = await scripted_server(script)
    with pytest.raises(P2PChatError, match="refuses service: closed for repairs"):
        await MailboxClient.connect(url, APPID, timeout=2)


async def test_silent_server_times_out_instead_of_hanging(scripted_server: Any) -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.wait_closed()  # accepts the WebSocket, never says welcome

    url = await scripted_server(script)
    with pytest.raises(MailboxTimeout, match="no welcome"):
        await MailboxClient.connect(url, APPID, timeout=0.5)


async def test_unanswered_request_times_out(scripted_server: Any) -> None:
    url = await scripted_server(lambda ws: _welcome_and_serve(ws, _polite(lambda command: [])))
    client = await MailboxClient.connect(url, APPID, timeout=5)
    client.timeout = 0.5  # only the request is meant to time out, not the connection
    with pytest.raises(MailboxTimeout, match="did not answer 'allocate'"):
        await client.allocate()
    await client.close()
