"""Serverless pairing end to end: blobs passed between two processes' stdin/stdout.

No mailbox runs at all: the only link between the processes is this test copying
each `blob:` line from one's stdout to the other's stdin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.core.handshake import BLOB_PREFIX
from tests.contacts.conftest import Chat, expect_paired, talk_and_leave

LOOPBACK = ["--loopback"]


@pytest.fixture
def start(chats: list[Chat]) -> Callable[..., Chat]:
    def make(args: list[str], config: Path, **env: str) -> Chat:
        chat = Chat(args, config, command="manual", **env)
        chats.append(chat)
        return chat

    return make


def blob(chat: Chat) -> str:
    line = chat.expect("blob: ").removeprefix("blob: ")
    assert line.startswith(BLOB_PREFIX)
    return line


def first_contact(
    start: Callable[..., Chat], config_a: Path, config_b: Path, wrong_code: bool = False
) -> tuple[Chat, Chat]:
    alice = start(["invite", "--name", "alice", *LOOPBACK], config_a)
    code = alice.expect("code: ").removeprefix("code: ")
    if wrong_code:
        words = code.split("-")
        words[1] = "aardvark" if words[1] != "aardvark" else "absurd"
        code = "-".join(words)
    bob = start(["join", "--name", "bob", *LOOPBACK], config_b, P2PCHAT_CODE=code)
    first = blob(alice)
    assert len(first) < 100
    bob.say(first)
    second = blob(bob)
    assert len(second) < 600
    alice.say(second)
    return alice, bob


def test_three_blobs_pair_a_first_contact_then_two_blobs_reconnect_it(
    start: Callable[..., Chat], config_dirs: tuple[Path, Path]
) -> None:
    config_a, config_b = config_dirs
    alice, bob = first_contact(start, config_a, config_b)
    bob.say(blob(alice))
    expect_paired(alice, bob, "new contact pinned")
    talk_and_leave(alice, bob, "alice", "no server saw this")

    # A pinned contact: two signed blobs, no code.
    alice = start(["invite", "--contact", "bob", *LOOPBACK], config_a)
    bob = start(["join", "--contact", "alice", *LOOPBACK], config_b)
    bob.say(blob(alice))
    alice.say(blob(bob))
    expect_paired(alice, bob, "known contact")
    talk_and_leave(bob, alice, "bob", "again, by paste")


def test_a_wrong_code_fails_with_exit_3(
    start: Callable[..., Chat], config_dirs: tuple[Path, Path]
) -> None:
    alice, bob = first_contact(start, *config_dirs, wrong_code=True)
    code, out, err = alice.finish()
    assert code == 3, err
    assert "code was wrong" in err
    assert "* paired" not in out
    bob.kill()


def test_a_damaged_blob_is_refused_clearly(
    start: Callable[..., Chat], config_dirs: tuple[Path, Path]
) -> None:
    alice = start(["invite", *LOOPBACK], config_dirs[0])
    code = alice.expect("code: ").removeprefix("code: ")
    bob = start(["join", *LOOPBACK], config_dirs[1], P2PCHAT_CODE=code)
    bob.say(blob(alice))
    second = blob(bob)
    middle = len(second) // 2
    damaged = second[:middle] + ("A" if second[middle] != "A" else "B") + second[middle + 1 :]
    alice.say(damaged)
    code_, out, err = alice.finish()
    assert code_ == 3, err
    assert "damaged" in err and "* paired" not in out
    bob.kill()


def test_each_step_is_explained_on_stderr(
    start: Callable[..., Chat], config_dirs: tuple[Path, Path]
) -> None:
    from p2pchat.i18n import t

    alice, bob = first_contact(start, *config_dirs)
    bob.say(blob(alice))
    expect_paired(alice, bob, "new contact pinned")
    alice.say("explained")
    assert bob.expect("alice: ") == "alice: explained"
    alice_code, _, alice_err = alice.finish()
    bob_code, _, bob_err = bob.finish()
    assert alice_code == bob_code == 0
    for err in (alice_err, bob_err):
        assert t("manual.intro_first") in err
        assert t("manual.send_this") in err
        assert t("manual.paste_theirs") in err
    assert t("manual.read_code") in alice_err


def test_manual_has_no_mailbox_option(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "p2pchat", "manual", "join", "--mailbox", "ws://127.0.0.1:9/v1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "P2PCHAT_CONFIG_DIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "--mailbox" in result.stderr


def test_the_typed_code_is_hidden_at_a_terminal(tmp_path: Path) -> None:
    """At a terminal the joiner's code is asked with a hidden prompt (it was echoed)."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    from p2pchat.i18n import t

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "p2pchat", "manual", "join", "--loopback"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={
            "PATH": "/usr/bin:/bin",
            "P2PCHAT_CONFIG_DIR": str(tmp_path),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        },
        start_new_session=True,
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes, timeout: float = 30.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                seen += os.read(leader, 4096)

    try:
        read_until(t("manual.code_prompt").strip().encode())
        os.write(leader, b"0-aardvark-adroitness-absurd\n")
        read_until(t("manual.paste_theirs").encode())
        assert b"aardvark" not in seen
    finally:
        proc.kill()
        proc.wait(10)
        os.close(leader)
