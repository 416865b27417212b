"""The embedded MailboxServer: protocol rules, limits, the real wormhole client, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from p2pchat.core.errors import P2PChatError
from p2pchat.net.mailbox import MailboxClient
from tests.net.conftest import APPID, open_pair


async def raw_client(url: str, *, bind: bool = True, appid: str = APPID) -> ClientConnection:
    ws = await connect(url, compression=None, max_size=None)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert welcome["type"] == "welcome"
    if bind:
        await ws.send(json.dumps({"type": "bind", "appid": appid, "side": os.urandom(4).hex()}))
    return ws


async def request(ws: ClientConnection, reply_type: str, **command: Any) -> dict[str, Any]:
    """Send ``command`` and return the next frame of ``reply_type`` or ``error``."""
    await ws.send(json.dumps(command))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] in (reply_type, "error"):
            return frame


async def closed_by_server(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; return the close code and reason it sent."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, "the server dropped TCP without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


# ------------------------------------------------------------------ protocol


async def test_commands_before_bind_and_out_of_order_are_refused(embedded_mailbox: str) -> None:
    ws = await raw_client(embedded_mailbox, bind=False)
    assert (await request(ws, "allocated", type="allocate"))["error"] == "must bind first"
    pong = await request(ws, "pong", type="ping", ping=7)  # ping needs no bind
    assert pong["pong"] == 7
    await ws.send(json.dumps({"type": "bind", "appid": APPID, "side": "s1"}))
    refused = await request(ws, "x", type="add", phase="pake", body="00")
    assert refused["error"] == "must open mailbox before adding"
    assert refused["orig"]["phase"] == "pake"
    assert (await request(ws, "x", type="frobnicate"))["error"] == "unknown type"
    assert (await request(ws, "claimed", type="claim", nameplate="12a"))[
        "error"
    ] == "invalid 'nameplate'"
    mailbox = (await request(ws, "claimed", type="claim", nameplate="42"))["mailbox"]
    assert (await request(ws, "claimed", type="claim", nameplate="43"))["error"].startswith(
        "only one"
    )
    await ws.send(json.dumps({"type": "open", "mailbox": mailbox}))
    bad_hex = await request(ws, "x", type="add", phase="pake", body="0g")
    assert bad_hex["error"] == "'body' must be a hex string"
    await ws.close()


async def test_every_command_is_acked_with_its_id(embedded_mailbox: str) -> None:
    ws = await raw_client(embedded_mailbox)
    await ws.send(json.dumps({"type": "ping", "ping": 1, "id": "beef"}))
    acks = []
    while not acks or acks[-1]["id"] != "beef":
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == "ack":
            acks.append(frame)
    assert [ack["id"] for ack in acks] == [None, "beef"]  # the bind's, then the ping's
    assert isinstance(acks[-1]["server_tx"], float)
    await ws.close()


async def test_appids_are_separate_namespaces(start_mailbox: Any) -> None:
    url = (await start_mailbox(allow_list=True)).url
    first = await raw_client(url, appid="app/one")
    second = await raw_client(url, appid="app/two")
    name = (await request(first, "allocated", type="allocate"))["nameplate"]
    mailbox_one = (await request(first, "claimed", type="claim", nameplate=name))["mailbox"]
    assert (await request(second, "nameplates", type="list"))["nameplates"] == []
    mailbox_two = (await request(second, "claimed", type="claim", nameplate=name))["mailbox"]
    assert mailbox_one != mailbox_two
    assert (await request(first, "nameplates", type="list"))["nameplates"] == [{"id": name}]
    await first.close()
    await second.close()


async def test_allocate_picks_a_short_nameplate_and_state_is_freed_after_close(
    start_mailbox: Any,
) -> None:
    server = await start_mailbox()
    inviter, joiner, nameplate = await open_pair(server.url)
    assert len(nameplate) == 1
    assert server.rendezvous.count() == (1, 1)
    await inviter.close()
    assert server.rendezvous.count() == (1, 1)  # the joiner still claims and opens them
    await joiner.close()
    assert server.rendezvous.count() == (0, 0)


async def test_closing_the_mailbox_frees_an_unreleased_nameplate(start_mailbox: Any) -> None:
    server = await start_mailbox()
    first = await raw_client(server.url)
    second = await raw_client(server.url)
    for ws in (first, second):
        mailbox = (await request(ws, "claimed", type="claim", nameplate="8"))["mailbox"]
        await request(ws, "closed", type="close", mailbox=mailbox, mood="happy")
    assert server.rendezvous.count() == (0, 0)
    await first.close()
    await second.close()


async def test_release_then_reclaim_by_the_same_side_is_refused(embedded_mailbox: str) -> None:
    first = await raw_client(embedded_mailbox)
    await first.send(json.dumps({"type": "bind", "appid": "x", "side": "again"}))
    assert (await request(first, "x", type="ping", ping=0))["error"] == "already bound"
    partner = await raw_client(embedded_mailbox)
    await request(partner, "claimed", type="claim", nameplate="9")
    side_frame = {"type": "bind", "appid": APPID, "side": "same-side"}
    once = await raw_client(embedded_mailbox, bind=False)
    await once.send(json.dumps(side_frame))
    await request(once, "claimed", type="claim", nameplate="9")
    await request(once, "released", type="release")
    twice = await raw_client(embedded_mailbox, bind=False)
    await twice.send(json.dumps(side_frame))
    assert (await request(twice, "claimed", type="claim", nameplate="9"))["error"] == "reclaimed"
    for ws in (first, partner, once, twice):
        await ws.close()


# -------------------------------------------------------------------- limits


async def test_oversized_message_closes_the_connection(start_mailbox: Any) -> None:
    server = await start_mailbox(max_message_bytes=1024)
    ws = await raw_client(server.url)
    await ws.send(json.dumps({"type": "ping", "ping": "x" * 2000}))
    assert (await closed_by_server(ws))[0] == 1009  # "message too big"


async def test_flood_is_cut(start_mailbox: Any) -> None:
    server = await start_mailbox(messages_per_second=5, burst=10)
    ws = await raw_client(server.url)
    with contextlib.suppress(ConnectionClosed):
        for number in range(200):
            await ws.send(json.dumps({"type": "ping", "ping": number}))
    assert await closed_by_server(ws) == (1008, "too many messages, slow down")


async def test_connection_that_never_binds_is_dropped(start_mailbox: Any) -> None:
    server = await start_mailbox(bind_timeout=0.3)
    ws = await raw_client(server.url, bind=False)
    assert await closed_by_server(ws) == (1008, "no bind in time")


async def test_idle_connection_is_dropped(start_mailbox: Any) -> None:
    server = await start_mailbox(idle_timeout=0.3)
    ws = await raw_client(server.url)
    assert await closed_by_server(ws) == (1008, "idle timeout")


async def test_too_many_nameplates_are_refused(start_mailbox: Any) -> None:
    server = await start_mailbox(max_nameplates=2)
    clients = [await MailboxClient.connect(server.url, APPID, timeout=5) for _ in range(3)]
    await clients[0].allocate()
    await clients[1].allocate()
    with pytest.raises(P2PChatError, match="too many nameplates"):
        await clients[2].allocate()
    for client in clients:
        await client.close()


async def test_too_many_messages_in_a_mailbox_are_refused(start_mailbox: Any) -> None:
    server = await start_mailbox(max_messages_per_mailbox=2)
    ws = await raw_client(server.url)
    mailbox = (await request(ws, "claimed", type="claim", nameplate="3"))["mailbox"]
    await ws.send(json.dumps({"type": "open", "mailbox": mailbox}))
    await request(ws, "message", type="add", phase="a", body="")
    await request(ws, "message", type="add", phase="b", body="")
    assert (await request(ws, "message", type="add", phase="c", body=""))["error"] == "mailbox full"
    await ws.close()


async def test_unclaimed_nameplate_expires(start_mailbox: Any) -> None:
    server = await start_mailbox(nameplate_timeout=0.2, allow_list=True)
    client = await MailboxClient.connect(server.url, APPID, timeout=5)
    nameplate = await client.allocate()
    assert await client.list_nameplates() == [nameplate]
    for _ in range(100):
        if not await client.list_nameplates():
            break
        await asyncio.sleep(0.05)
    assert await client.list_nameplates() == []
    await client.close()


async def test_connection_limit_and_wrong_path_are_http_errors(start_mailbox: Any) -> None:
    server = await start_mailbox(max_connections=1)
    with pytest.raises(InvalidStatus) as wrong_path:
        await connect(server.url.replace("/v1", "/v2"))
    assert wrong_path.value.response.status_code == 404
    first = await raw_client(server.url)
    with pytest.raises(InvalidStatus) as busy:
        await connect(server.url)
    assert busy.value.response.status_code == 503
    await first.close()


# ------------------------------------------------- the real wormhole client


def _wormhole(url: str, *args: str) -> subprocess.Popen[str]:
    wormhole = Path(sys.executable).with_name("wormhole")
    if not wormhole.exists():
        pytest.skip("magic-wormhole is not installed")
    return subprocess.Popen(
        # The transit helper points at a closed loopback port: text needs no transit,
        # and nothing may ever reach the public helper.
        [str(wormhole), "--relay-url", url, "--transit-helper", "tcp:127.0.0.1:9", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_real_magic_wormhole_client_sends_text_through_our_server(
    embedded_mailbox: str,
) -> None:
    code = "17-guitarist-revenge"
    sender = _wormhole(embedded_mailbox, "send", "--code", code, "--text", "hello via p2pchat")
    receiver = _wormhole(embedded_mailbox, "receive", code)
    loop = asyncio.get_running_loop()
    received, _ = await loop.run_in_executor(None, lambda: receiver.communicate(timeout=60))
    sent, _ = await loop.run_in_executor(None, lambda: sender.communicate(timeout=60))
    assert receiver.returncode == 0, received
    assert sender.returncode == 0, sent
    assert received.strip().splitlines()[-1] == "hello via p2pchat"


# ------------------------------------------------------------------- the CLI


async def test_cli_prints_url_first_serves_clients_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "p2pchat",
        "mailbox",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        first_line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        url = first_line.strip()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/v1")
        inviter, joiner, _ = await open_pair(url)
        await inviter.add("pake", b"through the cli server")
        assert (await joiner.next_message(5)).body == b"through the cli server"
        await inviter.close()
        await joiner.close()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert await process.stdout.read() == b""  # nothing but the URL on stdout
        assert b"stopped" in await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_cli_reports_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "p2pchat", "mailbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
        )
    assert result.returncode == 4  # TransportError
    assert result.stdout == ""
    assert "--port" in result.stderr
