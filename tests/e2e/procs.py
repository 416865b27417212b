"""Run real `p2pchat` processes for end-to-end tests (loopback only).

Also the process plumbing the other test folders share: ``spawn_command`` (any
command, pipes and its own session), ``running_mailbox`` (a `p2pchat mailbox`
process for the length of a block) and ``terminate`` (end a child politely).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.netguard import GUARD_DIR
from tests.photos import PHOTOS

ROOT = Path(__file__).resolve().parents[2]
CORPUS = PHOTOS


def p2pchat_env(config_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env["P2PCHAT_CONFIG_DIR"] = str(config_dir)
    env["PYTHONUNBUFFERED"] = "1"
    # The child refuses public servers too (tests/netguard.py).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [GUARD_DIR, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def spawn_command(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """``argv`` with text pipes, in its own session so that ``stop`` ends all its children."""
    return subprocess.Popen(
        argv,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        start_new_session=True,
    )


def spawn(
    args: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    return spawn_command([sys.executable, "-m", "p2pchat", *args], env, cwd, stdin)


Launch = Callable[[list[str], dict[str, str]], subprocess.Popen[str]]


@contextlib.contextmanager
def running_mailbox(
    config_dir: Path, port: int = 0, *, host: str = "127.0.0.1", launch: Launch = spawn
) -> Iterator[str]:
    """`p2pchat mailbox` on ``host:port`` (0: any free port) until the block ends; its URL.

    ``launch`` runs the p2pchat arguments (e.g. inside a network namespace).
    """
    proc = launch(["mailbox", "--host", host, "--port", str(port)], p2pchat_env(config_dir))
    try:
        url = read_line(proc, timeout=30)
        if port:
            assert url == f"ws://{host}:{port}/v1", url
        else:
            assert url.startswith(f"ws://{host}:"), url
        yield url
    finally:
        stop(proc)


_LINE_QUEUES: dict[int, queue.Queue[str | None]] = {}


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str | None]:
    """A reader thread per process: selecting on a buffered pipe can miss queued lines."""
    if proc.pid not in _LINE_QUEUES:
        lines: queue.Queue[str | None] = queue.Queue()
        stream = proc.stdout
        assert stream is not None

        def pump() -> None:
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        _LINE_QUEUES[proc.pid] = lines
    return _LINE_QUEUES[proc.pid]


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """One stdout line, or an AssertionError carrying stderr if none comes in time."""
    try:
        line = _lines(proc).get(timeout=timeout)
    except queue.Empty:
        line = None
    if line is None:
        stop(proc)
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"no output line; stderr: {err}")
    return line.rstrip("\n")


def remaining_output(proc: subprocess.Popen[str]) -> str:
    """What the process printed after the lines already read (call after it exited)."""
    lines = _lines(proc)
    out = []
    while (line := lines.get(timeout=30)) is not None:
        out.append(line)
    _LINE_QUEUES.pop(proc.pid, None)
    return "".join(out)


def read_json_until(
    proc: subprocess.Popen[str], event: str, timeout: float = 30.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read JSON lines until one with the given event; return it and all seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {event!r} event; saw {seen}")
        record = json.loads(read_line(proc, remaining))
        seen.append(record)
        if record.get("event") == event:
            return record, seen


def finish(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """Wait for the exit; returns (code, stdout not yet read, stderr)."""
    if proc.pid not in _LINE_QUEUES:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            out, err = proc.communicate()
            raise AssertionError(f"process did not exit in time; stderr: {err}") from None
        return proc.returncode, out, err
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"process did not exit in time; stderr: {err}") from None
    err = proc.stderr.read() if proc.stderr else ""
    return proc.returncode, remaining_output(proc), err


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def terminate(process: subprocess.Popen[Any], timeout: float = 5) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def exiftool_tags(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out)[0])


def probed_receive(
    mailbox: str, config_dirs: tuple[Path, Path], tmp_path: Path, probe: str, size: tuple[int, int]
) -> str:
    """A real `send` of a noise photo of ``size`` to a `receive` run under ``probe`` (a
    ``python -c`` script that runs ``main`` with the rest of its argv and reports on
    stderr); both exit 0 and the photo is saved at its size. The receiver's stderr."""
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.effect_noise(size, 60).convert("RGB").save(photo, format="JPEG")
    argv = ["send", "--mailbox", mailbox, "--loopback", "--json", str(photo)]
    sender = spawn(argv, p2pchat_env(config_dirs[0]))
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    receive = ["receive", "--mailbox", mailbox, "--loopback", "--json", "--out"]
    receiver = spawn_command(
        [sys.executable, "-c", probe, *receive, str(out_dir)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=json.loads(read_line(sender, timeout=60))["code"]),
    )
    try:
        image, _ = read_json_until(receiver, "image", timeout=120)
        assert Image.open(image["path"]).size == size
        status, _, err = finish(receiver, timeout=60)
        assert status == 0, err
        assert finish(sender, timeout=60)[0] == 0
        return err
    finally:
        stop(sender)
        stop(receiver)
