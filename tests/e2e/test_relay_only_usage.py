"""Relay-only with no relay left is a usage error (issue 16 §7), said before any network.

``--relay-only`` with no TURN server and the transit relay turned off can never open a
path: it used to pair, wait, and end as "peer lost" (exit 4). Every command that talks
to a peer now refuses it at once with exit 2 and says what to add. The mailbox URL
points at a closed port on 127.0.0.1: a command that got as far as the network would
fail differently.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import p2pchat_env

CLOSED = "ws://127.0.0.1:9/v1"
NO_RELAY = ["--mailbox", CLOSED, "--relay-only", "--no-transit", "--no-stun"]
EXIT_USAGE = 2


@pytest.mark.parametrize(
    "argv",
    [
        ["send", *NO_RELAY, "--text", "hello"],
        ["receive", *NO_RELAY, "--out", "."],
        ["headless", "--invite", *NO_RELAY],
        ["chat", "--invite", *NO_RELAY],
        ["send", "--loopback", "--relay-only", "--mailbox", CLOSED, "--text", "hello"],
    ],
    ids=["send", "receive", "headless", "chat", "loopback-drops-the-default-transit"],
)
def test_relay_only_without_any_relay_is_a_usage_error(argv: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "p2pchat", *argv],
        env=p2pchat_env(tmp_path, P2PCHAT_CODE="7-aardvark-adroitness-absurd", LANG="C.UTF-8"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, (done.returncode, done.stdout, done.stderr)
    assert "--relay-only needs a relay" in done.stderr and "--turn" in done.stderr
    assert "peer" not in done.stderr.lower()


def test_relay_only_with_the_transit_relay_is_accepted(tmp_path: Path) -> None:
    """Not over-eager: with a transit relay named, the options pass (then the closed
    mailbox fails the run, but not as a usage error)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "p2pchat",
            "send",
            "--mailbox",
            CLOSED,
            "--relay-only",
            "--no-stun",
            "--transit-relay",
            "tcp:127.0.0.1:9",
            "--text",
            "hello",
        ],
        env=p2pchat_env(tmp_path, LANG="C.UTF-8"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != EXIT_USAGE, done.stderr
    assert "--relay-only needs a relay" not in done.stderr
