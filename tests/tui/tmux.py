"""A small tmux driver for smoke tests of the real ``p2pchat`` binary in a terminal.

Owns nothing but its own tmux server: every ``TmuxServer`` runs tmux on a socket
inside the test's tmp dir (``tmux -S``), so a developer's own tmux sessions are
never seen or touched, and ``kill()`` ends only that server.

Typical use::

    with TmuxServer(tmp_path) as tmux:
        pane = tmux.new_session("alice", [P2PCHAT, "invite", ...], env={...})
        screen = pane.wait_for(CODE_RE)          # regex, text or predicate
        pane.type("hello")                        # literal text (send-keys -l)
        pane.press("Enter")                       # tmux key names: Enter, Tab, C-s, Escape
        pane.save(tmp_path / "alice.txt")

Panes stay on screen after their program exits (``remain-on-exit``), so a
crash leaves its traceback readable; ``wait_for`` fails fast with the screen
text when the program in the pane has died.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

DEFAULT_SIZE = (110, 32)
POLL_SECONDS = 0.1
NUDGE_AFTER_SECONDS = 2.0
# Loaded when the private server starts, so it holds before any pane exists.
SERVER_CONFIG = """\
set -g remain-on-exit on
set -g default-terminal "xterm-256color"
set -g history-limit 2000
set -g status off
"""

Expectation = str | re.Pattern[str] | Callable[[str], object]


class TmuxError(RuntimeError):
    """tmux failed, or a pane never showed what was expected (message holds the screen)."""


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


class TmuxServer:
    """A private tmux server whose socket lives in ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = workdir / "tmux.sock"
        self.config = workdir / "tmux.conf"
        self.config.write_text(SERVER_CONFIG)
        self.panes: list[Pane] = []

    def run(self, *args: str, check: bool = True) -> str:
        """One tmux command against this server; its stdout."""
        command = ["tmux", "-S", str(self.socket), "-f", str(self.config), *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=10, env=_client_environment()
        )
        if check and result.returncode != 0:
            raise TmuxError(f"tmux {' '.join(args[:1])} failed: {result.stderr.strip()}")
        return result.stdout

    def new_session(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        size: tuple[int, int] = DEFAULT_SIZE,
    ) -> Pane:
        """Start ``command`` (an argv list, no shell) in a detached session of a fixed size."""
        width, height = size
        args = ["new-session", "-d", "-s", name, "-x", str(width), "-y", str(height)]
        if cwd is not None:
            args += ["-c", str(cwd)]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        # More than one word after the options: tmux execs the argv itself, no shell.
        self.run(*args, *command)
        pane = Pane(self, name)
        self.panes.append(pane)
        return pane

    def nudge(self) -> None:
        """Make the server look for exited programs (send it SIGCHLD)."""
        pid = self.run("display-message", "-p", "#{pid}", check=False).strip()
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGCHLD)

    def kill(self) -> None:
        """End this server and everything running in it (only this test's panes)."""
        self.run("kill-server", check=False)

    def __enter__(self) -> TmuxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.kill()


class Pane:
    """The single pane of one session: keys in, screen text out."""

    def __init__(self, server: TmuxServer, session: str) -> None:
        self.server = server
        self.session = session
        self.target = f"{session}:0.0"

    def press(self, *keys: str) -> None:
        """Keys by tmux name (``Enter``, ``Tab``, ``Escape``, ``C-s``, ``F2``)."""
        self.server.run("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        """Literal text, character by character as a person would type it."""
        self.server.run("send-keys", "-t", self.target, "-l", text)

    def capture(self, *, history: bool = False) -> str:
        """The visible screen as plain text (no colours), one line per row.

        With ``history``, the lines scrolled off the top come first: what a program
        printed before it died is there once tmux has added its "Pane is dead" line.
        """
        scrollback = ("-S", "-") if history else ()
        return self.server.run("capture-pane", "-p", *scrollback, "-t", self.target)

    def capture_colours(self) -> str:
        """The visible screen with its SGR escape sequences (to check colours or images)."""
        return self.server.run("capture-pane", "-p", "-e", "-t", self.target)

    def title(self) -> str:
        """The pane title (what a program's stray escape strings would land in)."""
        return self.server.run("display-message", "-p", "-t", self.target, "#{pane_title}")

    def dead(self) -> bool:
        """True once the program in the pane has exited."""
        out = self.server.run("display-message", "-p", "-t", self.target, "#{pane_dead}")
        return out.strip() == "1"

    def exit_status(self) -> int | None:
        """The program's exit status, or None while it runs (or before tmux has reaped it)."""
        out = self.server.run(
            "display-message", "-p", "-t", self.target, "#{pane_dead}:#{pane_dead_status}"
        ).strip()
        dead, _, status = out.partition(":")
        if dead != "1" or not status.lstrip("-").isdigit():
            return None
        return int(status)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        nudge_at = time.monotonic() + NUDGE_AFTER_SECONDS
        while (status := self.exit_status()) is None:
            now = time.monotonic()
            if now > deadline:
                raise TmuxError(f"{self.session}: still running after {timeout:.0f} s")
            if now > nudge_at:
                # tmux 3.3 sometimes misses the SIGCHLD of a multi-threaded program (a
                # Textual app) and leaves it a zombie, pane alive, for ever; another
                # SIGCHLD makes it reap. Only this test's own server is signalled.
                self.server.nudge()
                nudge_at = now + NUDGE_AFTER_SECONDS
            time.sleep(POLL_SECONDS)
        return status

    def wait_for(self, expected: Expectation, timeout: float = 30.0) -> str:
        """Poll the screen until it shows ``expected``; return that screen.

        ``expected`` is a substring, a compiled regex, or a predicate on the screen
        text. Raises ``TmuxError`` with the last screen on timeout or when the
        program has exited without showing it.
        """
        check = _matcher(expected)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.capture()
            if check(screen):
                return screen
            if self.dead():
                raise TmuxError(
                    f"{self.session}: program exited (status {self.exit_status()}) before "
                    f"showing {_describe(expected)}; output:\n{self.capture(history=True)}"
                )
            if time.monotonic() > deadline:
                raise TmuxError(
                    f"{self.session}: {_describe(expected)} not shown within {timeout:.0f} s; "
                    f"screen:\n{screen}"
                )
            time.sleep(POLL_SECONDS)

    def save(self, path: Path) -> Path:
        """Write the screen with its scrollback to ``path``, and with colours to ``path``.ansi."""
        path.write_text(self.capture(history=True))
        path.with_suffix(path.suffix + ".ansi").write_text(self.capture_colours())
        return path


def _client_environment() -> dict[str, str]:
    """The environment the tmux server (and so every pane) starts from.

    Passed explicitly because a test process can hold C-level variables that
    ``os.environ`` does not show (under pytest, COLUMNS=80 and LINES=24 reach
    children): those would make every program in a pane think the terminal is
    80x24 whatever the pane's real size.
    """
    return {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}


def _matcher(expected: Expectation) -> Callable[[str], object]:
    if isinstance(expected, str):
        return lambda screen: expected in screen
    if isinstance(expected, re.Pattern):
        return expected.search
    return expected


def _describe(expected: Expectation) -> str:
    if isinstance(expected, str):
        return repr(expected)
    if isinstance(expected, re.Pattern):
        return f"/{expected.pattern}/"
    return getattr(expected, "__name__", "the expected screen")
