"""Headless mode's two streams: JSON lines out on stdout, command lines in from stdin.

A closed stdout sets ``JsonLinesWriter.broken`` instead of raising; stdin is
read as bytes in a thread and decoded line by line, so one line that is not
UTF-8 becomes an ``UndecodableLine`` and the lines after it still arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO


class JsonLinesWriter:
    """Events out as JSON lines; a closed stdout sets ``broken`` instead of raising."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = asyncio.Event()

    def write(self, event: str, **fields: Any) -> None:
        if self.broken.is_set():
            return
        try:
            self.stream.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            # The reader is gone (`| head -1`): nothing we write can be read any more.
            self.broken.set()
            _silence(self.stream)


def _silence(stream: TextIO) -> None:
    """Point a dead stdout at /dev/null so the interpreter's final flush cannot fail."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class UndecodableLine(str):
    """A stdin line that is not UTF-8: empty as text, ``reason`` says what was wrong."""

    reason = ""


def decode_line(raw: bytes) -> str:
    """One stdin line as text, or an ``UndecodableLine`` (never an exception)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = UndecodableLine("")
        line.reason = f"not UTF-8: byte 0x{raw[error.start]:02x} at position {error.start}"
        return line


def start_stdin_reader(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Read stdin lines in a thread (portable, never blocks the loop); None means EOF.

    Read as bytes and decoded line by line: one line that is not UTF-8 becomes an
    ``UndecodableLine`` for the caller to answer, and the lines after it still arrive.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for raw in _stdin_lines():
                loop.call_soon_threadsafe(queue.put_nowait, decode_line(raw))
        except (OSError, ValueError):
            pass  # stdin closed under us: that is the end of input
        finally:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()
    return queue


def _stdin_lines() -> Iterator[bytes]:
    """stdin's lines as bytes, read from the descriptor itself.

    Not through ``sys.stdin.buffer``: this daemon thread would hold its lock when the
    interpreter shuts down, and finalising a locked buffer aborts the process.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # a replaced stdin (tests, embedding)
        for line in sys.stdin:
            yield line.encode("utf-8", errors="surrogateescape")
        return
    pending = bytearray()
    while chunk := os.read(fd, 65536):
        start = len(pending)
        pending += chunk
        newline = pending.find(b"\n", start)
        while newline >= 0:
            yield bytes(pending[: newline + 1])
            del pending[: newline + 1]
            newline = pending.find(b"\n")
    if pending:
        yield bytes(pending)
