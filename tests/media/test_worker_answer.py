"""The parent takes a worker's answer once its announced length is in, not at the child's exit.

A child that answered has nothing left to do (it ends with ``os._exit``); the parent
no longer waits for an interpreter's teardown before it shows the photo. What the
child writes is still hostile input: an announced length over the child's own
memory limit, or a child that dies halfway through its answer, is a clear refusal.
The child sends no worded summary (the parent words the report in its own language).
Real child processes; ``WORKER_ARGV`` is swapped for a child that behaves as told.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected
from p2pchat.media import worker
from p2pchat.media.budget import WorkerBudget
from p2pchat.media.policy import SanitizedImage, SanitizePolicy
from p2pchat.media.samples import demo_photo
from p2pchat.media.sandbox import child_environment
from p2pchat.media.worker import ImageWorker, sanitize_isolated
from p2pchat.media.worker_protocol import LENGTH, decode_answer, refusal, request_frame
from tests.media.workers import worker_children
from tests.viewonce.conftest import until

ROOT = str(Path(__file__).resolve().parents[2])
RECEIVE = SanitizePolicy(max_long_edge=None, side="receive")
# The real child's work, then it stays: the answer is complete, the process is not gone.
LINGERS = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); "
    "from p2pchat.media.worker_child import main; main(); time.sleep(600)"
)
# Announces a 3 GiB answer (over its 1 GiB limit), writes a little of it, and stays.
BOASTS = (
    "import sys, time; sys.stdin.buffer.read(4); "
    "sys.stdout.buffer.write((3 << 30).to_bytes(4, 'big') + b'O' * 100); "
    "sys.stdout.flush(); time.sleep(600)"
)
# Dies by a signal halfway through its answer.
DIES = (
    "import os, signal, sys; sys.stdin.buffer.read(4); "
    "sys.stdout.buffer.write((1000).to_bytes(4, 'big') + b'O' * 10); sys.stdout.flush(); "
    "os.kill(os.getpid(), signal.SIGSEGV)"
)


async def _run_with(monkeypatch: pytest.MonkeyPatch, script: str) -> object:
    monkeypatch.setattr(worker, "WORKER_ARGV", [sys.executable, "-I", "-c", script, ROOT])
    child = await ImageWorker.start("receive", budget=WorkerBudget())
    try:
        return await child.run(demo_photo((64, 48)), RECEIVE, timeout=30)
    except ImageRejected as error:
        return error
    finally:
        await until(lambda: not worker_children(), "the child is gone")


async def test_the_answer_counts_once_it_is_in_even_if_the_child_lingers(monkeypatch) -> None:
    clean = await _run_with(monkeypatch, LINGERS)
    assert isinstance(clean, SanitizedImage), clean
    assert (clean.mime, clean.width, clean.height) == ("image/jpeg", 64, 48)
    assert clean.data.startswith(b"\xff\xd8\xff")


async def test_an_answer_longer_than_the_child_could_hold_is_refused_unread(monkeypatch) -> None:
    refused = await _run_with(monkeypatch, BOASTS)
    assert str(refused) == str(refusal("receive", "broken"))


async def test_a_child_dying_halfway_through_its_answer_is_a_crash(monkeypatch) -> None:
    refused = await _run_with(monkeypatch, DIES)
    assert str(refused) == str(refusal("receive", "crash", signal="SIGSEGV"))


def test_the_child_words_nothing_for_a_photo_without_findings() -> None:
    """The summary line is the parent's (in its reader's language): the child parsing a
    whole catalogue to word it cost every received photo 8 ms."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from p2pchat.i18n import catalogue\n"
        "from p2pchat.media.worker_child import main\n"
        "main()\n"
        "sys.stderr.write('catalogues loaded: %d' % catalogue.cache_info().currsize)\n"
    )
    clean = sanitize_isolated(demo_photo((64, 48)), RECEIVE)  # a clean JPEG: nothing to find
    request = request_frame(clean.data, RECEIVE, 1 << 30, 20)
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, ROOT],
        input=LENGTH.pack(len(request)) + request,
        capture_output=True,
        env=child_environment(),
        timeout=60,
        check=False,
    )
    answer = decode_answer(done.stdout, done.returncode, "receive")
    assert answer.report.findings == []
    assert done.stderr.decode().endswith("catalogues loaded: 0"), done.stderr
