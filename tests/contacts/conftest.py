"""Fixtures for the contacts tests: `p2pchat chat` helpers.

``mailbox_process`` (the shared `p2pchat mailbox` process) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import p2pchat_env, spawn, stop


class Chat:
    """One `p2pchat chat` process: stdin lines in, stdout lines collected by a thread."""

    def __init__(self, args: list[str], config: Path, command: str = "chat", **env: str) -> None:
        self.proc = spawn([command, *args], p2pchat_env(config, **env), stdin=subprocess.PIPE)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, prefix: str, timeout: float = 40.0) -> str:
        """Read stdout until a line starts with ``prefix``; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                line = None
            if line is None:
                self.kill()
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"no line {prefix!r}; saw {self.lines}; stderr: {err}")
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """Close stdin (leave) and collect the exit status and the remaining output."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
        self._reader.join(10)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return self.proc.returncode, "\n".join(self.lines), self.proc.stderr.read()

    def kill(self) -> None:
        stop(self.proc)


def expect_paired(alice: Chat, bob: Chat, note: str) -> None:
    """Both sides report the pairing, each line saying ``note`` (new or known contact)."""
    assert note in alice.expect("* paired with bob")
    assert note in bob.expect("* paired with alice")


def talk_and_leave(speaker: Chat, listener: Chat, speaker_name: str, text: str) -> None:
    """``speaker`` says ``text``, ``listener`` shows it; then both leave cleanly, speaker first."""
    speaker.say(text)
    assert listener.expect(f"{speaker_name}: ") == f"{speaker_name}: {text}"
    assert speaker.finish()[0] == 0
    assert listener.finish()[0] == 0


@pytest.fixture
def chats() -> Iterator[list[Chat]]:
    started: list[Chat] = []
    yield started
    for chat in started:
        if chat.proc.poll() is None:
            chat.kill()
