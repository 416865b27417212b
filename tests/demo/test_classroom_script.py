"""scripts/classroom-demo: two real p2pchat processes in a tmux split, paired, then cleaned up.

The script runs detached on a private tmux socket name; the test reads Alice's
code off her pane, types it into Bob's, waits until both show the chat, quits
both apps, and checks that the session, the mailbox and the temporary
directory are all gone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "classroom-demo"
P2PCHAT = Path(sys.executable).with_name("p2pchat")
CODE_RE = re.compile(r"\b\d+-[a-z]+-[a-z]+-[a-z]+\b")
DEADLINE = 60.0

pytestmark = [
    pytest.mark.skipif(
        subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
        reason="tmux is not installed",
    ),
    pytest.mark.skipif(not P2PCHAT.exists(), reason="the p2pchat console script is not installed"),
]


def wait_until(condition, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"never happened: {what}")


def test_classroom_demo_pairs_two_processes_and_cleans_up(tmp_path: Path) -> None:
    socket = f"p2pchat-test-{os.getpid()}"
    env = {
        **os.environ,
        "CLASSROOM_SOCKET": socket,
        "P2PCHAT": str(P2PCHAT),
        "TMPDIR": str(tmp_path),
    }
    env.pop("TMUX", None)

    def tmux(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10
        )

    def screen(pane: str) -> str:
        return tmux("capture-pane", "-p", "-t", f"classroom:lesson.{pane}").stdout

    started = subprocess.run(
        [str(SCRIPT), "--lang", "en", "--detach"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    try:
        assert started.returncode == 0, started.stderr
        assert len(list(tmp_path.glob("p2pchat-classroom.*"))) == 1
        code = wait_until(lambda: CODE_RE.search(screen("0")), "Alice's code").group(0)
        wait_until(
            lambda: "Join" in screen("1") or "code" in screen("1").lower(), "Bob's join screen"
        )
        tmux("send-keys", "-t", "classroom:lesson.1", "-l", code)
        tmux("send-keys", "-t", "classroom:lesson.1", "Enter")
        wait_until(
            lambda: "Connected to" in screen("0") and "Connected to" in screen("1"),
            "both panes in the chat",
        )
        for pane in ("0", "1"):
            tmux("send-keys", "-t", f"classroom:lesson.{pane}", "C-q")
        # Both apps gone -> the lesson window closes -> the session, mailbox and files go.
        wait_until(
            lambda: tmux("has-session", "-t", "classroom").returncode != 0, "the tmux session ended"
        )
        wait_until(
            lambda: not list(tmp_path.glob("p2pchat-classroom.*")),
            "the temporary directory was removed",
        )
    finally:
        tmux("kill-server")


def test_classroom_demo_refuses_a_bad_language() -> None:
    result = subprocess.run(
        [str(SCRIPT), "--lang", "fr", "--detach"], capture_output=True, text=True, timeout=10
    )
    assert result.returncode == 2
    assert "en or ja" in result.stderr
