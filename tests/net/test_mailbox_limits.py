"""The embedded mailbox server cannot be exhausted by one client (issue 13 §4).

Clients come from distinct loopback addresses (127.0.0.2, 127.0.0.3, ...: all of
127/8 is this machine), so that the per-address limits see different clients.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from p2pchat.core.errors import TransportError, exit_code_of
from p2pchat.core.exit_status import EXIT_PEER_LOST
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.mailbox_protocol import MailboxRefused
from p2pchat.net.mailbox_rendezvous import client_key
from tests.e2e.procs import ROOT, p2pchat_env
from tests.net.conftest import APPID, open_pair
from tests.net.test_mailbox_server import request

FLOODER = "127.0.0.2"


async def client_from(
    url: str, address: str, side: str | None = None, appid: str = APPID
) -> ClientConnection:
    """A raw, bound client whose TCP connection comes from ``address``."""
    ws = await connect(url, compression=None, max_size=None, local_addr=(address, 0))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "welcome"
    side = side or os.urandom(4).hex()
    await ws.send(json.dumps({"type": "bind", "appid": appid, "side": side}))
    return ws


async def allocate_and_claim(ws: ClientConnection) -> dict[str, Any]:
    """What the audit's flood did on each socket; returns ``claimed`` or ``error``."""
    allocated = await request(ws, "allocated", type="allocate")
    if allocated["type"] == "error":
        return allocated
    claimed = await request(ws, "claimed", type="claim", nameplate=allocated["nameplate"])
    return {**claimed, "nameplate": allocated["nameplate"]}


async def eventually(condition: Any, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


async def test_one_address_cannot_take_every_nameplate(start_mailbox: Any) -> None:
    # The server-wide limit is the only one set here: on a server without per-address
    # limits the flood below takes all 70 nameplates and the pairing after it fails.
    server = await start_mailbox(max_nameplates=70, max_mailboxes=70)
    flood = [await client_from(server.url, FLOODER) for _ in range(70)]
    outcomes = [await allocate_and_claim(ws) for ws in flood]
    # Someone else still pairs during the flood.
    inviter, joiner, _ = await open_pair(server.url)
    await inviter.add("pake", b"hello")
    assert (await joiner.next_message(5)).body == b"hello"
    for client in (inviter, joiner):
        await client.close()
    refused = [frame["error"] for frame in outcomes if frame["type"] == "error"]
    assert len(outcomes) - len(refused) == server.limits.max_nameplates_per_client
    assert set(refused) == {"too many nameplates in use from your address, try again later"}
    for ws in flood:
        await ws.close()


async def test_one_address_has_a_share_of_the_connections(start_mailbox: Any) -> None:
    server = await start_mailbox(max_connections_per_client=2)
    held = [await client_from(server.url, "127.0.0.1") for _ in range(2)]
    with pytest.raises(InvalidStatus) as busy:
        await connect(server.url)
    assert busy.value.response.status_code == 503
    with pytest.raises(MailboxRefused, match="too busy"):
        await MailboxClient.connect(server.url, APPID, timeout=5)
    other = await client_from(server.url, "127.0.0.3")  # another address is let in
    await held[0].close()
    assert await eventually(lambda: server.snapshot().connections == 2)
    again = await client_from(server.url, "127.0.0.1")  # its share came back
    for ws in (*held, other, again):
        await ws.close()


async def test_a_nameplate_left_by_a_vanished_client_is_freed_after_the_grace(
    start_mailbox: Any,
) -> None:
    server = await start_mailbox(abandoned_grace=0.3)
    ws = await client_from(server.url, FLOODER)
    assert (await allocate_and_claim(ws))["type"] == "claimed"
    await ws.close()
    assert server.rendezvous.count() == (1, 1)  # not at once: the client may reconnect
    assert await eventually(lambda: server.rendezvous.count() == (0, 0))


async def test_a_client_that_comes_back_within_the_grace_keeps_its_nameplate(
    start_mailbox: Any,
) -> None:
    server = await start_mailbox(abandoned_grace=0.5)
    first = await client_from(server.url, FLOODER, side="same-side")
    claimed = await allocate_and_claim(first)
    await first.close()
    # The wormhole client's reconnect: same side, claims and opens again.
    back = await client_from(server.url, "127.0.0.4", side="same-side")
    again = await request(back, "claimed", type="claim", nameplate=claimed["nameplate"])
    assert again["mailbox"] == claimed["mailbox"]
    await back.send(json.dumps({"type": "open", "mailbox": again["mailbox"]}))
    await asyncio.sleep(1.5)  # three graces: held by a live connection, it stays
    assert server.rendezvous.count() == (1, 1)
    await back.close()
    assert await eventually(lambda: server.rendezvous.count() == (0, 0))


async def test_a_refused_allocation_is_a_server_problem_not_a_bug(start_mailbox: Any) -> None:
    server = await start_mailbox(max_nameplates=1)
    holder = await client_from(server.url, FLOODER)
    assert (await allocate_and_claim(holder))["type"] == "claimed"
    client = await MailboxClient.connect(server.url, APPID, timeout=5)
    with pytest.raises(MailboxRefused) as refused:
        await client.allocate()
    assert isinstance(refused.value, TransportError)
    assert exit_code_of(refused.value) == EXIT_PEER_LOST
    assert "is full" in str(refused.value) and "Try again in a minute" in str(refused.value)
    await client.close()
    await holder.close()


async def test_an_invite_refused_by_a_full_server_exits_4_with_a_reason(
    start_mailbox: Any, tmp_path: Path
) -> None:
    server = await start_mailbox(max_nameplates_per_client=1)
    holder = await client_from(server.url, "127.0.0.1")
    assert (await allocate_and_claim(holder))["type"] == "claimed"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "p2pchat", "headless", "--invite", "--loopback"),
        *("--mailbox", server.url),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=p2pchat_env(tmp_path),
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == EXIT_PEER_LOST, (out, err)
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    failure = next(event for event in events if event.get("event") == "error")
    assert failure["exit_code"] == EXIT_PEER_LOST
    assert "too many nameplates in use from your address" in failure["message"]
    await holder.close()


def test_client_key_groups_an_ipv6_host_and_unmaps_ipv4() -> None:
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key("fe80::1%eth0") == "fe80::/64"
    assert client_key("not an address") == "not an address"


async def test_list_shows_only_allocated_short_nameplates_and_is_off_by_default(
    start_mailbox: Any,
) -> None:
    hidden = await start_mailbox()
    ws = await client_from(hidden.url, FLOODER)
    assert (await allocate_and_claim(ws))["type"] == "claimed"
    assert (await request(ws, "nameplates", type="list"))["nameplates"] == []
    await ws.close()

    listing = await start_mailbox(allow_list=True)
    inviter = await client_from(listing.url, FLOODER)
    allocated = await allocate_and_claim(inviter)
    assert allocated["type"] == "claimed"
    meeting = await client_from(listing.url, "127.0.0.3")
    # A reconnect's meeting point (12 digits, chosen by the clients) and a short
    # name claimed rather than allocated are never listed.
    await request(meeting, "claimed", type="claim", nameplate="314159265358")
    typed = await client_from(listing.url, "127.0.0.4")
    await request(typed, "claimed", type="claim", nameplate="77")
    listed = (await request(typed, "nameplates", type="list"))["nameplates"]
    assert listed == [{"id": allocated["nameplate"]}]
    for client in (inviter, meeting, typed):
        await client.close()


async def test_nameplates_and_mailbox_ids_do_not_come_from_random(
    start_mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `random` is predictable from its earlier outputs; the server must not use it.
    def predictable(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mailbox server used the random module")

    for name in ("choice", "choices", "randrange", "randint", "random", "sample"):
        monkeypatch.setattr(random, name, predictable)
    server = await start_mailbox()
    inviter, joiner, nameplate = await open_pair(server.url)
    assert nameplate.isdigit() and inviter.mailbox is not None and len(inviter.mailbox) == 13
    for client in (inviter, joiner):
        await client.close()


def test_deploy_docs_state_the_limits_the_code_has() -> None:
    from p2pchat.net.mailbox_rendezvous import ServerLimits

    docs = (ROOT / "docs" / "deploy.md").read_text()
    section = docs[docs.index("### The embedded server") : docs.index("## 2. The relay")]
    limits = ServerLimits()
    assert "`p2pchat/net/mailbox_rendezvous.py`" in section
    for stated in (
        f"| frame size | {limits.max_message_bytes // 1024} KiB |",
        f"| connections | {limits.max_connections:,} ",
        f"| nameplates, mailboxes | {limits.max_nameplates:,} each |",
        f"{limits.max_connections_per_client} connections, "
        f"{limits.max_nameplates_per_client} nameplates, "
        f"{limits.max_mailboxes_per_client} mailboxes",
        f"| messages per mailbox | {limits.max_messages_per_mailbox} |",
        f"{limits.messages_per_second:g}/s (bursts of {limits.burst})",
        f"freed after {limits.abandoned_grace:g} s",
        f"freed after {limits.nameplate_timeout / 60:g} min",
    ):
        assert stated in section, stated
    assert limits.max_nameplates == limits.max_mailboxes


def test_cli_options_set_the_per_client_limits_and_list() -> None:
    from p2pchat.cli.cmd_mailbox import _limits
    from p2pchat.cli.main import build_parser

    parser = build_parser()
    default = _limits(parser.parse_args(["mailbox"]))
    assert not default.allow_list and default.max_nameplates_per_client == 64
    tuned = _limits(parser.parse_args(["mailbox", "--max-per-client", "500", "--allow-list"]))
    assert tuned.allow_list
    assert (tuned.max_nameplates_per_client, tuned.max_mailboxes_per_client) == (500, 500)
    assert tuned.max_connections_per_client == 2000
    with pytest.raises(SystemExit):
        parser.parse_args(["mailbox", "--max-per-client", "0"])
