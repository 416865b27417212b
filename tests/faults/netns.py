"""Private Linux network namespaces for fault tests (root only; skipped elsewhere).

Every namespace is created by the test, named ``p2pfault-<pid>-<n>``, and removed
afterwards together with whatever still runs inside it. Addresses are 10.77.9.0/24
on a veth pair that exists only between two such namespaces, or 127.0.0.1 inside
one: nothing here can reach the host's network.

``tc netem`` is not compiled into every kernel (it is not here), so packet loss
uses nftables ``numgen random``, which needs nothing beyond nf_tables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import spawn_command

_counter = itertools.count()


def _run(*args: str, input_text: str | None = None) -> str:
    result = subprocess.run(args, capture_output=True, text=True, input=input_text)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def netns_unavailable_reason() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install iproute2 nftables)"
    probe = f"p2pfault-probe-{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "creating a network namespace is not permitted here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def require_netns() -> None:
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def _remove(namespace: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    for pid in pids.stdout.split():  # only processes this test started live in it
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


@contextlib.contextmanager
def namespaces(count: int) -> Iterator[list[str]]:
    """``count`` fresh namespaces with loopback up and IPv6 off; removed afterwards."""
    names = [f"p2pfault-{os.getpid()}-{next(_counter)}" for _ in range(count)]
    created: list[str] = []
    try:
        for name in names:
            _run("ip", "netns", "add", name)
            created.append(name)
            _run("ip", "-n", name, "link", "set", "lo", "up")
            _run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        yield names
    finally:
        for name in reversed(created):
            _remove(name)


def connect(ns_a: str, ns_b: str, interface: str = "eth0") -> tuple[str, str]:
    """A veth between two namespaces: 10.77.9.1 in ``ns_a``, 10.77.9.2 in ``ns_b``."""
    _run(
        "ip", "link", "add", "name", interface, "netns", ns_a,
        "type", "veth", "peer", "name", interface, "netns", ns_b,
    )  # fmt: skip
    addresses = ("10.77.9.1", "10.77.9.2")
    for namespace, address in zip((ns_a, ns_b), addresses, strict=True):
        _run("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", interface)
        _run("ip", "-n", namespace, "link", "set", interface, "up")
    return addresses


def drop_udp(namespace: str, percent: float, interface: str = "lo") -> None:
    """Drop ``percent`` % of the UDP packets leaving ``interface`` (at random)."""
    ruleset = f"""
table inet p2pfault_loss {{
    chain out {{
        type filter hook output priority 0; policy accept;
        oifname "{interface}" meta l4proto udp numgen random mod 1000 < {round(percent * 10)} drop
    }}
}}
"""
    _run("ip", "netns", "exec", namespace, "nft", "-f", "-", input_text=ruleset)


def set_link(namespace: str, interface: str, up: bool) -> None:
    _run("ip", "-n", namespace, "link", "set", interface, "up" if up else "down")


def spawn_in(namespace: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m p2pchat ARGS`` inside ``namespace`` (``ip netns exec`` execs: same pid)."""
    return spawn_command(
        ["ip", "netns", "exec", namespace, sys.executable, "-m", "p2pchat", *args], env
    )


def noise_png(path: Path, side: int = 2400) -> Path:
    """A PNG of random noise (about 4 bytes per pixel): slow to send, hard to compress."""
    from PIL import Image

    Image.effect_noise((side, side), 120).convert("RGB").save(path, format="PNG")
    return path
