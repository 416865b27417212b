"""Our own display name is checked before pairing starts: a usage error (exit 2), no network.

Each command runs as a real process against a mailbox URL nobody listens on: a
name that were checked only during pairing would fail differently (exit 3/4,
or a wait), so exit 2 with the reason shows the check ran first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.core.errors import InvalidLabel
from p2pchat.core.keys import MAX_LABEL_CHARS
from p2pchat.core.labels import check_own_label
from p2pchat.service import ChatService, ServiceConfig
from tests.conftest import free_tcp_port
from tests.hostile_names import LONG_NAME

ROOT = Path(__file__).resolve().parent.parent
TOO_LONG = "n" * (MAX_LABEL_CHARS + 1)


def p2pchat(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "P2PCHAT_CONFIG_DIR": str(tmp_path / "config"),
        "P2PCHAT_CODE": "7-aardvark-adroitness-absurd",
    }
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("command", "option", "name"),
    [
        ("headless", "--label", TOO_LONG),
        ("headless", "--label", LONG_NAME),
        ("headless", "--label", "Bob\x1b]0;title\x07"),
        ("chat", "--name", TOO_LONG),
        ("chat", "--name", "\x1b[2JBob"),
        ("manual", "--name", TOO_LONG),
    ],
    ids=["headless-65", "headless-10000", "headless-osc", "chat-65", "chat-csi", "manual-65"],
)
def test_an_unusable_display_name_is_a_usage_error_before_pairing(tmp_path, command, option, name):
    mailbox = f"ws://127.0.0.1:{free_tcp_port()}/v1"
    # `manual` uses no server at all, so it has no --mailbox.
    role = ["--invite", "--mailbox", mailbox] if command != "manual" else ["invite", "--loopback"]
    result = p2pchat(command, *role, option, name, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "display name cannot be used" in result.stderr
    assert f"at most {MAX_LABEL_CHARS}" in result.stderr
    assert "\x1b" not in result.stderr  # the refused name is not echoed raw either


def test_the_service_refuses_one_too_before_any_network():
    """Front ends without argparse (the TUI's config, scripts) meet the same check."""
    with pytest.raises(InvalidLabel):
        ChatService(ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1", label=TOO_LONG))
    name = "👩\u200d💻 " + "é" * (MAX_LABEL_CHARS - 3)
    assert len(check_own_label(name)) == MAX_LABEL_CHARS  # the joiner does not count
    assert check_own_label(" Al\u200bice\u3164 ") == "Alice"
