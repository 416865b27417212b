"""The guard behind "nothing in the test suite contacts a public server" (issue 18)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.net.transit import open_transit
from tests.e2e.procs import p2pchat_env
from tests.netguard import GUARD_EXIT, PUBLIC_DEFAULT_HOSTS, PublicServerContacted


def test_the_default_servers_are_the_ones_guarded() -> None:
    assert {
        "stun.l.google.com",
        "stun.cloudflare.com",
        "transit.magic-wormhole.io",
        "relay.magic-wormhole.io",
    } == PUBLIC_DEFAULT_HOSTS


@pytest.mark.parametrize("host", sorted(PUBLIC_DEFAULT_HOSTS))
def test_resolving_a_default_server_in_a_test_is_refused(
    host: str, _no_public_servers: list[str]
) -> None:
    with pytest.raises(PublicServerContacted, match=host):
        socket.getaddrinfo(host, 443)
    assert _no_public_servers == [host]
    _no_public_servers.clear()  # seen: this test is about the guard itself


async def test_a_swallowed_attempt_still_fails_the_test(_no_public_servers: list[str]) -> None:
    with pytest.raises(PublicServerContacted):
        await open_transit("tcp:transit.magic-wormhole.io:4001", bytes(32), "offerer")
    assert _no_public_servers  # the autouse fixture would fail this test at teardown
    _no_public_servers.clear()


def test_a_public_address_is_refused_before_any_packet(_no_public_servers: list[str]) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with udp, pytest.raises(PublicServerContacted):
        udp.sendto(b"x", ("192.0.2.1", 3478))  # TEST-NET-1: would leave the machine
    _no_public_servers.clear()


def test_processes_started_by_tests_are_guarded_too(tmp_path: Path) -> None:
    probe = "import socket; socket.getaddrinfo('stun.l.google.com', 19302); print('resolved')"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=p2pchat_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == GUARD_EXIT, result
    assert "resolved" not in result.stdout and "stun.l.google.com" in result.stderr


def test_loopback_stays_allowed() -> None:
    assert socket.getaddrinfo("127.0.0.1", 1)
    asyncio.run(asyncio.sleep(0))
