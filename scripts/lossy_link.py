#!/usr/bin/env python3
"""A lossy, slow link between two network namespaces, without the kernel's netem.

This kernel has no ``sch_netem``, so loss, delay, jitter and a bottleneck rate are
made in user space: a forwarder process, in a namespace of its own, opens two tun
devices (``/dev/net/tun``, ``TUNSETIFF``), moves one into each end's namespace
under the name the end expects (e.g. ``eth0``) and copies IP packets between them,
dropping and delaying them per direction. The forwarder keeps the devices' file
descriptors, so the link lives exactly as long as it does.

Used by ``scripts/nat-lab --link SPEC`` (the link between client ``a`` and its NAT),
``scripts/bench_lossy.py`` and the ``netns`` tests. SPEC, applied to each direction:

    loss 5% delay 50ms jitter 5ms rate 8mbit queue 100 seed 1

``loss`` independent random loss; ``delay`` one-way (RTT = 2 x delay); ``jitter``
uniform +-, without reordering; ``rate`` a bottleneck (``kbit``/``mbit``/``kB``/``MB``
per second) with a FIFO of ``queue`` packets (tail drop, default 1000); ``seed``
makes the loss pattern repeatable.

As a module: ``LinkSpec.parse(text)`` and ``LossyLink(spec, wire_ns, (ns, ifname,
address), (ns, ifname, address))`` (a context manager). As a script: the forwarder
itself, ``lossy_link.py forward SPEC TMPNAME=NS:IFNAME TMPNAME=NS:IFNAME``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
_UNITS = {"%": 0.01, "ms": 0.001, "s": 1.0, "us": 1e-6}
_RATES = {"kbit": 1000 / 8, "mbit": 1e6 / 8, "gbit": 1e9 / 8, "B": 1.0, "kB": 1e3, "MB": 1e6}


@dataclass(frozen=True)
class LinkSpec:
    loss: float = 0.0  # fraction, each direction
    delay: float = 0.0  # seconds, one way
    jitter: float = 0.0  # seconds, +-
    rate: float | None = None  # bytes per second
    queue: int = 1000  # packets waiting for the bottleneck
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> LinkSpec:
        words = text.split()
        if len(words) % 2:
            raise ValueError(f"link spec {text!r}: expected KEY VALUE pairs")
        values: dict[str, Any] = {}
        for key, raw in zip(words[::2], words[1::2], strict=True):
            if key in ("loss", "delay", "jitter"):
                match = re.fullmatch(r"([0-9.e+-]+)(%|ms|us|s)", raw)
                if not match or (key == "loss") != (match[2] == "%"):
                    raise ValueError(f"link spec: bad {key} {raw!r}")
                values[key] = float(match[1]) * _UNITS[match[2]]
            elif key == "rate":
                match = re.fullmatch(r"([0-9.e+-]+)([a-zA-Z]+)", raw)
                if not match or match[2] not in _RATES:
                    raise ValueError(f"link spec: bad rate {raw!r} (kbit mbit gbit B kB MB)")
                values[key] = float(match[1]) * _RATES[match[2]]
            elif key in ("queue", "seed"):
                values[key] = int(raw)
            else:
                raise ValueError(f"link spec: unknown {key!r} (loss delay jitter rate queue seed)")
        spec = cls(**values)
        if not 0 <= spec.loss <= 1 or spec.queue < 1 or (spec.rate is not None and spec.rate <= 0):
            raise ValueError(f"link spec {text!r}: out of range")
        return spec

    def __str__(self) -> str:
        parts = [f"loss {self.loss * 100:g}%", f"delay {self.delay * 1000:g}ms"]
        if self.jitter:
            parts.append(f"jitter {self.jitter * 1000:g}ms")
        if self.rate:
            parts.append(f"rate {self.rate * 8 / 1e6:g}mbit queue {self.queue}")
        return " ".join(parts)

    def exact(self) -> str:
        """The spec again, losslessly (for the forwarder's command line)."""
        text = f"loss {self.loss * 100!r}% delay {self.delay!r}s jitter {self.jitter!r}s"
        text += f" queue {self.queue}"
        if self.rate:
            text += f" rate {self.rate!r}B"
        return text + (f" seed {self.seed}" if self.seed is not None else "")


# ---------------------------------------------------------------------- forwarder


@dataclass
class Direction:
    """One way through the link: loss, then the bottleneck queue, then the delay line."""

    spec: LinkSpec
    rng: random.Random
    out_fd: int
    line: collections.deque[tuple[float, bytes]] = field(default_factory=collections.deque)
    bottleneck_free: float = 0.0
    queued: collections.deque[float] = field(default_factory=collections.deque)
    last_due: float = 0.0
    timer: asyncio.TimerHandle | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {"packets": 0, "lost": 0, "queue_drops": 0}
    )

    def accept(self, now: float, packet: bytes) -> float | None:
        self.stats["packets"] += 1
        if self.spec.loss and self.rng.random() < self.spec.loss:
            self.stats["lost"] += 1
            return None
        leave = now
        if self.spec.rate:
            while self.queued and self.queued[0] <= now:
                self.queued.popleft()
            if len(self.queued) >= self.spec.queue:
                self.stats["queue_drops"] += 1
                return None
            leave = max(now, self.bottleneck_free) + len(packet) / self.spec.rate
            self.bottleneck_free = leave
            self.queued.append(leave)
        due = leave + self.spec.delay
        if self.spec.jitter:
            due += self.rng.uniform(-self.spec.jitter, self.spec.jitter)
        due = max(due, self.last_due)  # jitter without reordering
        self.last_due = due
        return due


async def forward(spec: LinkSpec, fds: tuple[int, int]) -> dict[str, dict[str, int]]:
    loop = asyncio.get_running_loop()
    rng = random.Random(spec.seed)
    ways = {
        "a>b": Direction(spec, random.Random(rng.random()), fds[1]),
        "b>a": Direction(spec, random.Random(rng.random()), fds[0]),
    }

    def flush(way: Direction) -> None:
        way.timer = None
        now = loop.time()
        while way.line and way.line[0][0] <= now:
            _, packet = way.line.popleft()
            with contextlib.suppress(OSError):  # far end down: lost, as on a wire
                os.write(way.out_fd, packet)
        if way.line:
            way.timer = loop.call_at(way.line[0][0], flush, way)

    def readable(fd: int, way: Direction) -> None:
        while True:
            try:
                packet = os.read(fd, 65536)
            except OSError:  # EAGAIN: read everything there was
                return
            due = way.accept(loop.time(), packet)
            if due is None:
                continue
            way.line.append((due, packet))
            if way.timer is None:
                way.timer = loop.call_at(way.line[0][0], flush, way)

    loop.add_reader(fds[0], readable, fds[0], ways["a>b"])
    loop.add_reader(fds[1], readable, fds[1], ways["b>a"])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("ready", flush=True)
    await stop.wait()
    return {name: way.stats for name, way in ways.items()}


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def forwarder_main(argv: list[str]) -> int:
    spec = LinkSpec.parse(argv[0])
    fds = []
    for arg in argv[1:3]:
        tmp, _, target = arg.partition("=")
        namespace, _, ifname = target.partition(":")
        fds.append(open_tun(tmp))
        subprocess.run(["ip", "link", "set", "dev", tmp, "netns", namespace], check=True)
        subprocess.run(["ip", "-n", namespace, "link", "set", tmp, "name", ifname], check=True)
    stats = asyncio.run(forward(spec, (fds[0], fds[1])))
    print(json.dumps(stats), flush=True)
    return 0


# ---------------------------------------------------------------------- controller


def _run(*args: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")


class LossyLink:
    """The link, up between ``enter`` and ``exit``. Each end is (namespace, ifname,
    IPv4 address); the two addresses are a point-to-point pair. ``wire_ns`` is an
    existing namespace for the forwarder (create it; nothing else needs to be in it)."""

    def __init__(
        self,
        spec: LinkSpec,
        wire_ns: str,
        end_a: tuple[str, str, str],
        end_b: tuple[str, str, str],
        python: str = sys.executable,
    ) -> None:
        self.spec = spec
        self.wire_ns = wire_ns
        self.ends = (end_a, end_b)
        self.python = python
        self.process: subprocess.Popen[str] | None = None
        self.stats: dict[str, dict[str, int]] = {}

    def __enter__(self) -> LossyLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        tag = f"{os.getpid() % 100000}{id(self) % 1000}"
        targets = [f"lk{i}{tag}"[:15] + f"={ns}:{ifname}" for i, (ns, ifname, _) in
                   enumerate(self.ends)]  # fmt: skip
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.wire_ns, self.python, os.path.abspath(__file__),
             "forward", self.spec.exact(), *targets],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"lossy link forwarder: {line!r} {self.process.stderr.read()}")  # type: ignore[union-attr]
        (ns_a, if_a, addr_a), (ns_b, if_b, addr_b) = self.ends
        for ns, ifname, mine, peer in ((ns_a, if_a, addr_a, addr_b), (ns_b, if_b, addr_b, addr_a)):
            _run("ip", "-n", ns, "addr", "add", mine, "peer", peer, "dev", ifname)
            _run("ip", "-n", ns, "link", "set", ifname, "up")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=5)
            self.stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        except (subprocess.TimeoutExpired, ValueError):
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "forward":
        sys.exit(forwarder_main(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
