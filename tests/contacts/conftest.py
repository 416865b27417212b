"""Fixtures for the contacts tests: a mailbox process and `p2pchat chat` helpers."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import p2pchat_env, read_line, spawn, stop


@pytest.fixture(scope="module")
def mailbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`p2pchat mailbox` as a real process on 127.0.0.1; yields its ws:// URL."""
    config = tmp_path_factory.mktemp("mailbox-config")
    proc = spawn(["mailbox", "--host", "127.0.0.1", "--port", "0"], p2pchat_env(config))
    url = read_line(proc, timeout=30)
    assert url.startswith("ws://127.0.0.1:"), url
    yield url
    stop(proc)


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


@pytest.fixture
def chats() -> Iterator[list[Chat]]:
    started: list[Chat] = []
    yield started
    for chat in started:
        if chat.proc.poll() is None:
            chat.kill()
