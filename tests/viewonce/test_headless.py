"""`p2pchat receive` (a script endpoint) never gets view-once contents.

The receiver is a real ``p2pchat receive`` process; the sender is a ChatService
in this test (as the TUI would be), both on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected
from p2pchat.service import ChatService
from p2pchat.service import events as ev
from tests.e2e.procs import ROOT, p2pchat_env
from tests.tui.helpers import ALICE_KEY

from .conftest import DEADLINE, loopback_config, next_event, noise_photo


async def line_starting(proc: asyncio.subprocess.Process, prefix: str) -> str:
    """The next plain output line starting with ``prefix`` (what a person reads)."""
    assert proc.stdout is not None
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), DEADLINE)
        if not raw:
            err = await proc.stderr.read() if proc.stderr else b""
            pytest.fail(f"receive ended before {prefix!r}: {err.decode(errors='replace')}")
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith(prefix):
            return line


async def test_receive_gets_a_placeholder_and_the_sender_is_refused_up_front(
    embedded_mailbox, tmp_path
):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    alice = ChatService(loopback_config(embedded_mailbox, ALICE_KEY, "alice"))
    code = await alice.invite()
    env = p2pchat_env(tmp_path / "config", P2PCHAT_CODE=code)
    (tmp_path / "config").mkdir()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "p2pchat",
        "receive",
        "--loopback",
        "--mailbox",
        embedded_mailbox,
        "--out",
        str(out_dir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        paired = await alice.wait_paired(DEADLINE)
        await line_starting(receiver, "paired:")
        # The receiver announced it cannot honour view-once: the sender is told before sending.
        assert paired.peer_view_once is False
        prepared = await alice.prepare_image(noise_photo(seed=21))
        with pytest.raises(ImageRejected, match="cannot honour view-once"):
            await alice.send_image(prepared, view_once=True)

        # A modified sender that ignores the capability still delivers nothing viewable.
        session = alice._session
        keys = session._keys
        session._keys = dataclasses.replace(
            keys, peer_capabilities=dataclasses.replace(keys.peer_capabilities, view_once=True)
        )
        alice.peer_capabilities = session._keys.peer_capabilities
        message_id = await alice.send_image(prepared, view_once=True)
        placeholder = await line_starting(receiver, "a view-once photo arrived")
        assert "only be opened in the p2pchat app" in placeholder
        assert (await next_event(alice, ev.Delivered)).message_id == message_id
        await alice.close()
        assert await asyncio.wait_for(receiver.wait(), DEADLINE) == 0
        assert list(out_dir.iterdir()) == []  # no image written
    finally:
        await alice.close()
        if receiver.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                receiver.kill()
            await receiver.wait()


def test_the_sanitiser_child_talks_over_pipes_only() -> None:
    """Audit hooks do not follow the child process: read what it is given instead."""
    media = Path(ROOT) / "p2pchat" / "media"
    parent = (media / "worker.py").read_text("utf-8")
    child = (media / "worker_child.py").read_text("utf-8")
    flat = " ".join(parent.split())  # independent of how the formatter wraps the call
    assert "stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL" in flat
    assert "stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE," in flat
    assert 'WORKER_ARGV = [sys.executable, "-I", "-c", _BOOTSTRAP, _ROOT]' in flat
    assert "sys.stdin.buffer, sys.stdout.buffer" in child  # the child reads/writes pipes
    forbidden = ("tempfile", " open(", "os.open", "NamedTemporaryFile", "shutil", '.save("')
    for source in (parent, child):
        for word in forbidden:
            assert word not in source, word
    assert "RLIMIT_CORE" in child  # and it never dumps core with the photo inside
    # The sandbox's only file-system change: an empty working directory, removed at once.
    sandbox = (media / "sandbox.py").read_text("utf-8")
    assert sandbox.count("tempfile.mkdtemp(") == 1 and "os.rmdir(empty)" in sandbox
    for forbidden in (" open(", "NamedTemporaryFile", "shutil"):
        assert forbidden not in sandbox, forbidden
