"""Run real `p2pchat` processes for end-to-end tests (loopback only)."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def p2pchat_env(config_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env["P2PCHAT_CONFIG_DIR"] = str(config_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def spawn(
    args: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "p2pchat", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        start_new_session=True,
    )


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """One stdout line, or an AssertionError carrying stderr if none comes in time."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = proc.stdout.readline()
                if line:
                    return line.rstrip("\n")
                break
            if proc.poll() is not None and not selector.select(timeout=0):
                break
    finally:
        selector.close()
    stop(proc)
    raise AssertionError(f"no output line; stderr: {proc.stderr.read() if proc.stderr else ''}")


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
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, err = proc.communicate()
        raise AssertionError(f"process did not exit in time; stderr: {err}") from None
    return proc.returncode, out, err


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def exiftool_tags(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out)[0])
