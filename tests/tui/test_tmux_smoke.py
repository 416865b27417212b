"""Smoke test of the real ``p2pchat`` binary: two copies inside tmux, paired for real.

Alice runs ``p2pchat invite``, Bob ``p2pchat join``, both with ``--loopback
--images halfcell`` against a ``p2pchat mailbox --port 0`` process on
127.0.0.1. The code is read off Alice's screen and typed into Bob's; a text and
the corpus GPS photo go across. Everything is observed the way a person would:
by what the terminals show. Both screens are saved into the test's tmp dir when
something fails. Waits poll the screen with a deadline; nothing is timed.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tmux import Pane, TmuxError, TmuxServer, tmux_available

ROOT = Path(__file__).resolve().parents[2]
P2PCHAT = Path(sys.executable).with_name("p2pchat")
PHOTO_ARG = "tests/data/photos/nikon-gps-DSCN0010.jpg"
CODE_RE = re.compile(r"\b\d+-[a-z]+-[a-z]+-[a-z]+\b")
# textual-image draws half cells with the upper/lower half block characters.
HALF_BLOCKS = ("▀", "▄")
# Pairing needs ICE on loopback; starting a Python app with Textual takes seconds on a busy box.
START_TIMEOUT = 40.0
STEP_TIMEOUT = 30.0

pytestmark = [
    pytest.mark.skipif(not tmux_available(), reason="tmux is not installed"),
    pytest.mark.skipif(not P2PCHAT.exists(), reason="the p2pchat console script is not installed"),
]


@pytest.fixture
def mailbox_url(tmp_path: Path) -> Iterator[str]:
    """A ``p2pchat mailbox --port 0`` process on 127.0.0.1; its URL is its first stdout line."""
    log = (tmp_path / "mailbox.err").open("wb")
    process = subprocess.Popen(
        [str(P2PCHAT), "mailbox", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("ws://127.0.0.1:"):
            pytest.fail(f"mailbox did not print its URL (got {line!r})")
        yield line
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def app_env(config_dir: Path) -> dict[str, str]:
    config_dir.mkdir(parents=True, exist_ok=True)
    return {
        "P2PCHAT_CONFIG_DIR": str(config_dir),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        # A code never goes on a command line or into the environment of the inviter.
        "P2PCHAT_CODE": "",
        "PYTHONUNBUFFERED": "1",
    }


def start_app(tmux: TmuxServer, name: str, mode: str, url: str, tmp_path: Path) -> Pane:
    command = [str(P2PCHAT), mode, "--mailbox", url, "--loopback", "--images", "halfcell"]
    command += ["--lang", "en"]
    return tmux.new_session(name, command, env=app_env(tmp_path / name), cwd=ROOT)


@contextlib.contextmanager
def screens_saved_on_failure(tmp_path: Path, *panes: Pane) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for pane in panes:
            with contextlib.suppress(Exception):
                saved = pane.save(tmp_path / f"{pane.session}-screen.txt")
                print(f"saved {pane.session}'s screen to {saved}", file=sys.stderr)
        raise


def test_two_binaries_in_tmux_pair_chat_and_send_a_photo(mailbox_url: str, tmp_path: Path):
    with TmuxServer(tmp_path / "tmux") as tmux:
        alice = start_app(tmux, "alice", "invite", mailbox_url, tmp_path)
        bob = start_app(tmux, "bob", "join", mailbox_url, tmp_path)
        with screens_saved_on_failure(tmp_path, alice, bob):
            invite_screen = alice.wait_for(
                lambda s: "Your invite code" in s and CODE_RE.search(s), START_TIMEOUT
            )
            code_match = CODE_RE.search(invite_screen)
            assert code_match is not None
            code = code_match.group(0)

            # `p2pchat join` puts the cursor in the code field: just type.
            bob.wait_for("Join with a code", START_TIMEOUT)
            bob.type(code)
            bob.wait_for(code)
            bob.press("Enter")

            paired = "End-to-end encrypted"
            alice.wait_for(paired, START_TIMEOUT)
            bob.wait_for(paired, START_TIMEOUT)
            assert code not in alice.capture()

            alice.type("hello bob, this came through tmux")
            alice.press("Enter")
            bob.wait_for("hello bob, this came through tmux", STEP_TIMEOUT)
            alice.wait_for("delivered", STEP_TIMEOUT)

            alice.type(f"/send {PHOTO_ARG}")
            alice.press("Enter")
            alice.wait_for("Send a photo", STEP_TIMEOUT)
            dialog = alice.wait_for("Will send", STEP_TIMEOUT)
            assert "GPS location" in dialog
            alice.press("C-s")

            def photo_arrived(screen: str) -> bool:
                return "Arrived clean" in screen or "Removed:" in screen

            bob_screen = bob.wait_for(photo_arrived, STEP_TIMEOUT)
            bob_screen = bob.wait_for(lambda s: any(b in s for b in HALF_BLOCKS), STEP_TIMEOUT)
            assert "GPS" not in bob_screen

            alice_screen = alice.wait_for(lambda s: "Send a photo" not in s, STEP_TIMEOUT)
            alice_screen = alice.wait_for("Removed: GPS location", STEP_TIMEOUT)
            assert any(block in alice_screen for block in HALF_BLOCKS)

            alice.press("C-q")
            bob.wait_for("left the conversation", STEP_TIMEOUT)
            assert alice.wait_exit(STEP_TIMEOUT) == 0
            bob.press("C-q")
            assert bob.wait_exit(STEP_TIMEOUT) == 0


def test_driver_reports_the_screen_when_the_program_exits(tmp_path: Path):
    # The driver is shared with other smoke tests: a dead pane must fail fast, with its screen.
    with TmuxServer(tmp_path / "tmux") as tmux:
        pane = tmux.new_session("echo", [sys.executable, "-c", "print('bye from the pane')"])
        with pytest.raises(TmuxError, match="bye from the pane"):
            pane.wait_for("never shown", timeout=10)
        assert pane.wait_exit(10) == 0
        assert os.path.exists(tmux.socket)
