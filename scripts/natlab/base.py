"""The lab's vocabulary: exit codes, addresses, the clients and scenarios, and the small
process helpers (run a command, read a child's line, the peers' environment) that the
topology, the scenarios and the command line share."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_NAMESPACES = 77
EXIT_MISSING_TOOLS = 78

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = ROOT / "tests" / "data" / "photos" / "png-text-alpha.png"
NAMESPACE_STEM = "p2plab"
PUBLIC_IP = "100.64.0.1"
SINK_IP = "100.64.0.254"
SINK_RULES = """
table inet sink {
    chain prerouting {
        type filter hook prerouting priority raw; policy drop;
    }
}
"""
TURN_PORT = 3478
MAILBOX_PORT = 4000
CLIENTS = {  # name: (index, NAT kind)
    "a": (1, "cone"),
    "b": (2, "symmetric"),
    "c": (3, "cone"),
}
SCENARIOS = {  # name: (sender, receiver, TURN: no / yes / relay-only, expected connection)
    "direct": ("a", "c", "no", "direct"),
    "relay": ("a", "b", "yes", "relay"),
    "hidden": ("a", "c", "relay-only", "relay"),
}


class LabError(Exception):
    """Something in the lab could not be set up; the message says what."""


class Interrupted(Exception):
    pass


def log(message: str) -> None:
    print(f"nat-lab: {message}", file=sys.stderr, flush=True)


def run(*args: str, check: bool = True, input_text: str | None = None) -> str:
    result = subprocess.run(args, capture_output=True, text=True, input=input_text)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def remove_namespace(namespace: str) -> None:
    # Anything still running inside a lab namespace was started by this lab.
    pids = run("ip", "netns", "pids", namespace, check=False).split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    run("ip", "netns", "del", namespace, check=False)


def p2pchat_env(config_dir: Path, **extra: str) -> dict[str, str]:
    config_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env["P2PCHAT_CONFIG_DIR"] = str(config_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if selector.select(timeout=timeout):
            return proc.stdout.readline()
    return ""


def stderr_of(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        return ""
    return proc.stderr.read() if proc.stderr else ""
