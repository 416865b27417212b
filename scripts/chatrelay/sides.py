"""The relay's vocabulary and its two children: exit codes and limits, the notices it
writes, where p2pchat and the photo spool are, and one ``Side`` per headless child."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_PAIRING_FAILED: Final = 3
EXIT_PEER_LOST: Final = 4

SIDES: Final = ("a", "b")
CODE_ENV: Final = {"a": "P2PCHAT_CODE_A", "b": "P2PCHAT_CODE_B"}
DEFAULT_LABEL: Final = "p2pchat relay"
# Notices start with this; a forwarded text that starts with it is marked, so that
# one side cannot forge a relay notice ("the other side left") to the other.
NOTICE_PREFIX: Final = "[relay] "
FORWARDED_MARK: Final = "(forwarded) "
# Texts that arrive before the other side has paired wait in memory, up to this many.
MAX_QUEUED_TEXTS: Final = 100
# JSON lines from a child can carry a long text; bounded so a runaway child cannot
# make the relay allocate without limit.
MAX_EVENT_LINE: Final = 4 * 1024 * 1024
# How long both children get to say goodbye and exit once the conversation is over
# (--close-timeout); then they are killed, so a child stuck in its own shutdown
# cannot keep the relay up.
CLOSE_TIMEOUT: Final = 15.0


def log(message: str) -> None:
    """Diagnostics for the operator: what happened, never what was said or shown."""
    print(f"relay: {message}", file=sys.stderr, flush=True)


def notice(text: str) -> dict[str, Any]:
    return {"cmd": "send_text", "text": NOTICE_PREFIX + text}


def p2pchat_command() -> list[str]:
    """The same Python's p2pchat when importable (a venv), else `p2pchat` on PATH."""
    if importlib.util.find_spec("p2pchat") is not None:
        return [sys.executable, "-m", "p2pchat"]
    found = shutil.which("p2pchat")
    if found is None:
        raise SystemExit("relay: p2pchat is not installed (neither importable nor on PATH)")
    return [found]


def private_spool() -> Path:
    """A fresh mode-0700 directory: under $TMPDIR when set, else in RAM (/dev/shm)."""
    ram = Path("/dev/shm")  # noqa: S108 -- a parent only: mkdtemp makes a fresh 0700 directory
    base: str | None = None
    if not os.environ.get("TMPDIR") and ram.is_dir() and os.access(ram, os.W_OK | os.X_OK):
        base = str(ram)  # photos waiting to be passed on then never reach a disk
    directory = Path(tempfile.mkdtemp(prefix="p2pchat-relay-", dir=base))
    directory.chmod(0o700)  # mkdtemp already does; explicit because it matters here
    return directory


@dataclass
class Pending:
    """A command we wrote to a child and whose answer (sent / error) is still due."""

    kind: str  # "text", "image" or "notice"
    origin: str | None = None  # the side the forwarded item came from (None for notices)
    path: Path | None = None


@dataclass
class Side:
    name: str
    process: asyncio.subprocess.Process
    paired: bool = False
    finished: bool = False
    pending: deque[Pending] = field(default_factory=deque)

    def write(self, command: dict[str, Any], pending: Pending | None = None) -> None:
        """Queue a command; every command gets exactly one answer (see ``Relay.answered``)."""
        pending = pending or Pending("notice")
        stdin = self.process.stdin
        if self.finished or stdin is None or stdin.is_closing():
            if pending.path is not None:
                pending.path.unlink(missing_ok=True)
            return
        self.pending.append(pending)
        stdin.write((json.dumps(command, ensure_ascii=False) + "\n").encode("utf-8"))

    def kill(self) -> None:
        """Stop the child and anything it started (it runs in a session of its own)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        """Say goodbye through the child (after its queued commands), or stop it unpaired."""
        if not self.paired:
            # An unpaired child reads no commands: it would wait for its peer until the
            # code expires. Nothing was said yet, so stopping it loses nothing.
            if self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.process.terminate()
            return
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            with contextlib.suppress(OSError):
                stdin.write(b'{"cmd": "close"}\n')
            stdin.close()
