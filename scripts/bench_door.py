#!/usr/bin/env python3
"""Door to door: `p2pchat send` / `receive` against `wormhole send` / `receive`.

Both are timed as whole processes on 127.0.0.1, from starting the sender to the
receiver's exit with the photo written, on the same photo file: p2pchat with a
`p2pchat mailbox` process, magic-wormhole with its own mailbox server and transit
relay (`twist wormhole-mailbox`, `twist transitrelay`). In both races the receiver
starts the moment the sender has printed its code (a person would take longer to
type it; nothing is gained by either side from that wait). Rounds alternate
p2pchat, wormhole, p2pchat, ... so a machine that slows down mid-run hits both.

p2pchat's processes run with ``P2PCHAT_TIMELINE=1`` (``p2pchat/core/timeline.py``): the
phase marks, on the machine-wide monotonic clock, give a per-phase timeline:
start -> code, code -> paired (receiver), transfer (paired -> last byte at the
receiver), receiver cleaning, written (cleaned -> receiver exited).

scripts/bench.py runs this with ``--only door``; its photo is bench.photo_12mp().
"""

from __future__ import annotations

import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_common import VENV_BIN, free_port, wait_port

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("start->code", "code->paired", "transfer", "receiver cleaning", "written")
_MARK = re.compile(r"^p2pchat-timeline (\S+) ([0-9.]+)$")
_WORMHOLE_CODE = re.compile(r"Wormhole code is: (\S+)")


class Watched:
    """A child process whose stdout and stderr lines are stamped as they arrive."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        self.lines: queue.Queue[tuple[str, float, str]] = queue.Queue()
        self.marks: dict[str, float] = {}
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str, stream: Any) -> None:
        for line in stream:
            now = time.monotonic()
            match = _MARK.match(line.strip())
            if match:
                self.marks.setdefault(match.group(1), float(match.group(2)))
            self.lines.put((name, now, line.rstrip("\n")))

    def wait_line(self, pattern: re.Pattern[str], timeout: float = 60) -> tuple[float, str]:
        """The first line (either stream) matching ``pattern``: when it came, and the match."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, at, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"no line matching {pattern.pattern!r}") from None
            found = pattern.search(line)
            if found:
                return at, found.group(1)

    def finish(self, timeout: float = 120) -> float:
        """Wait for the exit; the moment it was seen. Raises if it failed.

        A blocking wait, with a timer to kill a process that hangs: ``Popen.wait(timeout)``
        polls with a growing sleep of up to 50 ms, so it saw an exit up to 50 ms late.
        """
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        try:
            code = self.proc.wait()
        finally:
            timer.cancel()
        ended = time.monotonic()
        for reader in self._readers:
            reader.join(5)
        if code != 0:
            rest = []
            while not self.lines.empty():
                rest.append(self.lines.get()[2])
            raise RuntimeError(f"exit {code}: " + " | ".join(rest[-5:]))
        return ended

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _p2pchat_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env.update(
        P2PCHAT_CONFIG_DIR=str(workdir / "config"),
        P2PCHAT_TIMELINE="1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def p2pchat_round(photo: Path, mailbox: str, workdir: Path) -> dict[str, Any]:
    """One `p2pchat send` -> `p2pchat receive` of ``photo``: total seconds and phases."""
    out = workdir / f"out-{time.monotonic_ns()}"
    out.mkdir()
    env = _p2pchat_env(workdir)
    common = ["--mailbox", mailbox, "--loopback", "--json"]
    python = [sys.executable, "-m", "p2pchat"]
    sender = Watched([*python, "send", *common, str(photo)], env, workdir)
    receiver: Watched | None = None
    try:
        code_at, line = sender.wait_line(re.compile(r'^(\{"event": "code".*)$'))
        code = json.loads(line)["code"]
        receiver = Watched(
            [*python, "receive", *common, "--out", str(out)], {**env, "P2PCHAT_CODE": code}, workdir
        )
        paired_at, _ = receiver.wait_line(re.compile(r'^(\{"event": "paired")'))
        ended = receiver.finish()
        sender.finish()
    finally:
        sender.kill()
        if receiver is not None:
            receiver.kill()
    if len(list(out.iterdir())) != 1:
        raise RuntimeError("the receiver did not write the photo")
    marks = receiver.marks
    last_byte = marks.get("last-byte", paired_at)
    cleaned = marks.get("receiver-cleaned", last_byte)
    return {
        "seconds": ended - sender.started,
        "phases": {
            "start->code": code_at - sender.started,
            "code->paired": paired_at - code_at,
            "transfer": last_byte - paired_at,
            "receiver cleaning": cleaned - last_byte,
            "written": ended - cleaned,
        },
        "sender_cleaned_after_code": sender.marks.get("sender-cleaned", code_at) - code_at,
    }


def wormhole_round(photo: Path, mailbox_port: int, relay_port: int, workdir: Path) -> float:
    """One `wormhole send` -> `wormhole receive` of ``photo`` through the local servers."""
    out = workdir / f"wormhole-{time.monotonic_ns()}"
    common = [
        str(VENV_BIN / "wormhole"),
        f"--relay-url=ws://127.0.0.1:{mailbox_port}/v1",
        f"--transit-helper=tcp:127.0.0.1:{relay_port}",
    ]
    env = dict(os.environ)
    sender = Watched([*common, "send", "--hide-progress", str(photo)], env, workdir)
    receiver: Watched | None = None
    try:
        _, code = sender.wait_line(_WORMHOLE_CODE)
        receiver = Watched(
            [*common, "receive", "--hide-progress", "--accept-file", "-o", str(out), code],
            env,
            workdir,
        )
        ended = receiver.finish()
        sender.finish()
    finally:
        sender.kill()
        if receiver is not None:
            receiver.kill()
    if out.stat().st_size != photo.stat().st_size:
        raise RuntimeError("wormhole wrote a different size")
    return ended - sender.started


def _servers(workdir: Path) -> tuple[list[subprocess.Popen[bytes]], str, int, int]:
    twist = str(VENV_BIN / "twist")
    ports = [free_port() for _ in range(3)]
    env = _p2pchat_env(workdir)
    del env["P2PCHAT_TIMELINE"]
    argvs = [
        [sys.executable, "-m", "p2pchat", "mailbox", "--host=127.0.0.1", f"--port={ports[0]}"],
        [twist, "wormhole-mailbox", f"--port=tcp:{ports[1]}:interface=127.0.0.1"],
        [twist, "transitrelay", f"--port=tcp:{ports[2]}:interface=127.0.0.1"],
    ]
    servers = [
        subprocess.Popen(
            argv, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for argv in argvs
    ]
    for port in ports:
        wait_port(port)
    return servers, f"ws://127.0.0.1:{ports[0]}/v1", ports[1], ports[2]


def door_to_door(photo: bytes, rounds: int = 3) -> dict[str, Any] | None:
    """p2pchat and wormhole in alternate rounds; medians, each round, and p2pchat's phases."""
    if not (VENV_BIN / "twist").exists() or not (VENV_BIN / "wormhole").exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "config").mkdir()
        path = workdir / "photo.jpg"
        path.write_bytes(photo)
        servers, mailbox, wormhole_mailbox, relay = _servers(workdir)
        try:
            ours: list[dict[str, Any]] = []
            theirs: list[float] = []
            for _ in range(rounds):
                ours.append(p2pchat_round(path, mailbox, workdir))
                theirs.append(wormhole_round(path, wormhole_mailbox, relay, workdir))
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
    median = statistics.median(r["seconds"] for r in ours)
    anchor = statistics.median(theirs)
    # Pair by pair (round i of each), so that a machine slowing down mid-run cancels out.
    ratios = [r["seconds"] / w for r, w in zip(ours, theirs, strict=True)]
    return {
        "photo_bytes": len(photo),
        "p2pchat_s": median,
        "p2pchat_rounds": [r["seconds"] for r in ours],
        "wormhole_s": anchor,
        "wormhole_rounds": theirs,
        "ratio": statistics.median(ratios),
        "ratio_rounds": ratios,
        "phases": {p: statistics.median(r["phases"][p] for r in ours) for p in PHASES},
        "sender_cleaned_after_code_s": statistics.median(
            r["sender_cleaned_after_code"] for r in ours
        ),
    }


def rows(door: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The door-to-door lines of bench.py's table."""
    runs = ", ".join(f"{x:.2f}" for x in door["p2pchat_rounds"])
    pairs = ", ".join(f"{x:.2f}" for x in door["ratio_rounds"])
    anchor_runs = ", ".join(f"{x:.2f}" for x in door["wormhole_rounds"])
    phases = ", ".join(f"{p} {door['phases'][p] * 1000:.0f}" for p in PHASES)
    return [
        (
            f"door to door, {door['photo_bytes'] / 1e6:.1f} MB 12 MP photo, whole processes "
            "(median)",
            f"{door['p2pchat_s']:.2f} s (runs {runs}); {door['ratio']:.2f}x wormhole "
            f"(median of pairs {pairs})",
            f"wormhole send/receive {door['wormhole_s']:.2f} s (runs {anchor_runs})",
            "<= 0.7x wormhole",
        ),
        ("door to door: p2pchat's phases, ms (medians)", phases, "-", "-"),
    ]
