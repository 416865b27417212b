#!/usr/bin/env python3
"""Transfers over a lossy, delayed link: p2pchat, bare aiortc, `wormhole send` (cubic, BBR).

Root only. For each cell of {loss} x {RTT} it builds two network namespaces joined
by scripts/lossy_link.py (the loss and half the RTT in each direction), starts a
p2pchat mailbox, a magic-wormhole mailbox and a transit relay on the receiver's
side, and moves the same photo (a 12 MP JPEG, about 5 MB, sent by p2pchat with
``original: true``) four ways, one after the other:

- p2pchat: ``ChatService`` processes, one per namespace; from the first byte sent
  to the last byte received (pairing and cleaning excluded);
- bare aiortc: two ``RTCPeerConnection`` processes, one data channel, 60 KiB
  messages, the same send-buffer limit; stock aiortc, i.e. p2pchat before its sender;
- ``wormhole send``/``receive`` with TCP cubic, then BBR (``ip route ... congctl`` on
  the link's route in both namespaces, as a container may refuse the
  ``net.ipv4.tcp_congestion_control`` sysctl there), through its transit relay:
  from "Receiving file" to exit.

``--fairness`` instead runs two p2pchat transfers at once over one bottleneck
(``rate`` in the link) and prints what each got.

    sudo .venv/bin/python scripts/bench_lossy.py                      # the full matrix
    sudo .venv/bin/python scripts/bench_lossy.py --loss 5 --rtt 100   # one cell
    sudo .venv/bin/python scripts/bench_lossy.py --fairness
    .venv/bin/python scripts/bench.py --only lossy                    # from the main bench

Figures are printed, never asserted. A transfer that takes longer than --timeout is
shown as "> N s".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from lossy_link import LinkSpec, LossyLink  # noqa: E402

PYTHON = sys.executable
VENV_BIN = Path(sys.executable).parent
SEND_ADDR, RECV_ADDR = "10.77.9.1", "10.77.9.2"
MAILBOX_PORT, WORMHOLE_PORT, RELAY_PORT = 4000, 4001, 4002


# ---------------------------------------------------------------------- orchestration


def sh(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class Lab:
    """Namespaces send/recv/wire with the lossy link between send and recv."""

    def __init__(self, spec: LinkSpec) -> None:
        stem = f"p2pbench-{os.getpid()}"
        self.wire, self.send, self.recv = (f"{stem}-{n}" for n in ("wire", "send", "recv"))
        self.spec = spec
        self.procs: list[subprocess.Popen[str]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="p2pchat-bench-lossy-"))
        self.link: LossyLink | None = None
        self.wormhole_servers = False

    def __enter__(self) -> Lab:
        for ns in (self.wire, self.send, self.recv):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.link = LossyLink(
            self.spec, self.wire, (self.send, "eth0", SEND_ADDR), (self.recv, "eth0", RECV_ADDR)
        )
        self.link.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self.link is not None:
            self.link.stop()
        for ns in (self.wire, self.send, self.recv):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def spawn(
        self, ns: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=self.tmp, env=env or peer_env(self.tmp),
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def rcvbuf_errors(self) -> int:
        """UDP datagrams the receiver's kernel dropped because a socket buffer was full:
        loss the link did not make (a peer too busy to read), counted apart from it."""
        snmp = sh("ip", "netns", "exec", self.recv, "cat", "/proc/net/snmp")
        head, values = (line.split() for line in snmp.splitlines() if line.startswith("Udp:"))
        return int(dict(zip(head, values, strict=True)).get("RcvbufErrors", 0))

    def congestion_control(self, name: str) -> None:
        # Per route (RTAX_CC_ALGO): a container may refuse the netns sysctl.
        for ns, peer in ((self.send, RECV_ADDR), (self.recv, SEND_ADDR)):
            sh("ip", "-n", ns, "route", "replace", peer, "dev", "eth0", "congctl", name)


def peer_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    if os.environ.get("P2PCHAT_SCTP_SENDER"):  # --stock-sender
        env["P2PCHAT_SCTP_SENDER"] = os.environ["P2PCHAT_SCTP_SENDER"]
    config = Path(tempfile.mkdtemp(prefix="config-", dir=tmp))
    env.update(P2PCHAT_CONFIG_DIR=str(config), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return env


def read_json(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                line = proc.stdout.readline()
                if not line:
                    break
                with contextlib.suppress(ValueError):
                    return dict(json.loads(line))
    raise TimeoutError


def say(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(text + "\n")
    proc.stdin.flush()


def start_mailbox(lab: Lab) -> str:
    proc = lab.spawn(lab.recv, PYTHON, "-m", "p2pchat", "mailbox", "--host", RECV_ADDR,
                     "--port", str(MAILBOX_PORT))  # fmt: skip
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def p2pchat_pairs(lab: Lab, url: str, photo: Path, count: int, timeout: float) -> list[Any]:
    """``count`` simultaneous p2pchat transfers: (seconds, bytes) each, or None."""
    me = str(Path(__file__).resolve())
    pairs = []
    for _ in range(count):
        sender = lab.spawn(lab.send, PYTHON, me, "--role", "p2pchat-send", url, str(photo))
        receiver = lab.spawn(lab.recv, PYTHON, me, "--role", "p2pchat-receive", url)
        say(receiver, read_json(sender, 60)["code"])
        pairs.append((sender, receiver))
    ready = []
    for sender, _ in pairs:  # all paired and prepared, then all start at once
        with contextlib.suppress(TimeoutError):
            ready.append(read_json(sender, 120).get("event") == "ready")
    for sender, _ in pairs:
        with contextlib.suppress(OSError):
            say(sender, "go")
    results: list[Any] = []
    for (sender, receiver), paired in zip(pairs, ready + [False] * len(pairs), strict=False):
        stage = "pairing" if not paired else "transfer"
        try:
            start = read_json(sender, 120)
            done = read_json(receiver, timeout)
            results.append((done["t"] - start["t"], start["bytes"]) if "t" in done else None)
            if "t" not in done:
                print(f"bench_lossy: p2pchat receiver: {done}", file=sys.stderr)
        except TimeoutError:
            results.append(None)
            print(f"bench_lossy: p2pchat {stage} failed or timed out", file=sys.stderr)
            for proc in (sender, receiver):
                if proc.poll() is not None and proc.stderr is not None:
                    print("  " + proc.stderr.read()[-600:].strip(), file=sys.stderr)
        with contextlib.suppress(OSError):
            say(sender, "quit")
    return results


def bare_transfer(lab: Lab, photo: Path, timeout: float) -> float | None:
    me = str(Path(__file__).resolve())
    sender = lab.spawn(lab.send, PYTHON, me, "--role", "bare-send", str(photo))
    receiver = lab.spawn(lab.recv, PYTHON, me, "--role", "bare-receive", str(photo))
    say(receiver, json.dumps(read_json(sender, 30)))
    say(sender, json.dumps(read_json(receiver, 30)))
    try:
        start = read_json(sender, 90)
        done = read_json(receiver, timeout)
    except TimeoutError:
        return None
    finally:
        with contextlib.suppress(OSError):
            say(sender, "quit")
    return float(done["t"] - start["t"])


def wormhole_transfer(lab: Lab, photo: Path, timeout: float) -> float | None:
    twist, wormhole = str(VENV_BIN / "twist"), str(VENV_BIN / "wormhole")
    if not lab.wormhole_servers:
        lab.wormhole_servers = True
        for server, port in (("wormhole-mailbox", WORMHOLE_PORT), ("transitrelay", RELAY_PORT)):
            lab.spawn(lab.recv, twist, server, f"--port=tcp:{port}:interface={RECV_ADDR}")
        probe = (
            "import socket,sys,time\n"
            "for _ in range(300):\n"
            "    if all(socket.socket().connect_ex((sys.argv[1], int(p))) == 0"
            " for p in sys.argv[2:]): sys.exit(0)\n"
            "    time.sleep(0.1)\n"
            "sys.exit(1)\n"
        )
        sh("ip", "netns", "exec", lab.recv, PYTHON, "-c", probe, RECV_ADDR,
           str(WORMHOLE_PORT), str(RELAY_PORT))  # fmt: skip
    common = [f"--relay-url=ws://{RECV_ADDR}:{WORMHOLE_PORT}/v1",
              f"--transit-helper=tcp:{RECV_ADDR}:{RELAY_PORT}"]  # fmt: skip
    code = f"7-{os.getpid()}-{time.monotonic_ns() % 100000}"
    out = lab.tmp / f"wormhole-{code}"
    lab.spawn(lab.send, wormhole, *common, "send", "--no-listen", "--hide-progress", "--code",
              code, str(photo))  # fmt: skip
    receiver = lab.spawn(lab.recv, wormhole, *common, "receive", "--no-listen", "--hide-progress",
                         "--accept-file", "-o", str(out), code)  # fmt: skip
    assert receiver.stderr is not None
    started: float | None = None
    deadline = time.monotonic() + timeout + 30
    with selectors.DefaultSelector() as selector:
        selector.register(receiver.stderr, selectors.EVENT_READ)
        while receiver.poll() is None and time.monotonic() < deadline:
            if selector.select(timeout=0.05):
                line = receiver.stderr.readline()
                if started is None and line.startswith("Receiving file"):
                    started = time.perf_counter()
    finished = time.perf_counter()
    if receiver.poll() is not None and (receiver.returncode != 0 or not out.exists()):
        detail = receiver.stderr.read()[-300:].strip().replace("\n", " ")
        print(f"bench_lossy: wormhole receive failed ({receiver.returncode}): {detail}",
              file=sys.stderr)  # fmt: skip
        return None
    if started is None:
        return None
    seconds = finished - started
    return seconds if seconds <= timeout else None


def cell(loss: float, rtt: float, photo: Path, timeout: float, only: set[str]) -> dict[str, Any]:
    spec = LinkSpec(loss=loss / 100, delay=rtt / 2000, seed=int(loss * 1000 + rtt))
    result: dict[str, Any] = {"loss_pct": loss, "rtt_ms": rtt, "bytes": photo.stat().st_size}
    with Lab(spec) as lab:
        if "p2pchat" in only:
            url = start_mailbox(lab)
            dropped = lab.rcvbuf_errors()
            (pair,) = p2pchat_pairs(lab, url, photo, 1, timeout)
            result["p2pchat_s"] = pair[0] if pair else None
            result["p2pchat_rcvbuf_drops"] = lab.rcvbuf_errors() - dropped
        if "bare" in only:
            result["bare_aiortc_s"] = bare_transfer(lab, photo, timeout)
        for cc in ("cubic", "bbr"):
            if f"wormhole-{cc}" in only or "wormhole" in only:
                lab.congestion_control(cc)
                result[f"wormhole_{cc}_s"] = wormhole_transfer(lab, photo, timeout)
    result["link"] = lab.link.stats if lab.link else {}
    return result


def fairness(photo: Path, spec: LinkSpec, timeout: float) -> dict[str, Any]:
    with Lab(spec) as lab:
        url = start_mailbox(lab)
        pairs = p2pchat_pairs(lab, url, photo, 2, timeout)
    return {"link": str(spec), "transfers": pairs}


def fmt(seconds: float | None, size: int, timeout: float) -> str:
    if seconds is None:
        return f"> {timeout:g} s"
    return f"{seconds:6.2f} s {size / seconds / 1e6:5.2f} MB/s"


def cleaned(photo: Path, path: Path) -> Path:
    """The photo as p2pchat sends it with ``original: true`` (metadata stripped,
    re-encoded): the bytes every tool moves, so all move the same payload."""
    from p2pchat.media.sanitize import SanitizePolicy, sanitize_image

    policy = SanitizePolicy(max_long_edge=None, side="send")
    path.write_bytes(sanitize_image(photo.read_bytes(), policy).data)
    return path


def make_photo(path: Path) -> Path:
    """A 12 MP phone-like JPEG of about 5.6 MB (as in issue 15); one per run, for all tools."""
    from PIL import Image, ImageDraw

    noise = Image.effect_noise((4000, 3000), 48).convert("RGB")
    draw = ImageDraw.Draw(noise)
    for i in range(0, 4000, 200):
        draw.rectangle((i, 0, i + 100, 3000), fill=(i % 255, 90, 160))
    noise.save(path, format="JPEG", quality=95)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--loss", type=float, nargs="*", default=[0.5, 2, 5], help="percent")
    parser.add_argument("--rtt", type=float, nargs="*", default=[20, 100], help="ms")
    parser.add_argument("--only", default="p2pchat,bare,wormhole", help="p2pchat,bare,wormhole")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--fairness", action="store_true")
    parser.add_argument("--photo", type=Path, help="default: a generated 12 MP JPEG")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--stock-sender", action="store_true", help="p2pchat with aiortc's own SCTP sender"
    )
    args, rest = parser.parse_known_args(argv)
    if args.role:
        from bench_lossy_peers import peer_main

        return peer_main(args.role, rest)
    if args.stock_sender:
        os.environ["P2PCHAT_SCTP_SENDER"] = "aiortc"
    if os.geteuid() != 0:
        print("bench_lossy: needs root (network namespaces)", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        original = args.photo or make_photo(Path(tmp) / "photo.jpg")
        photo = cleaned(original, Path(tmp) / "cleaned.jpg")
        size = photo.stat().st_size
        if args.fairness:
            spec = LinkSpec.parse("delay 25ms rate 16mbit queue 100")
            result = fairness(photo, spec, args.timeout)
            print(json.dumps(result) if args.json else f"two p2pchat transfers at once over "
                  f"'{spec}': " + "; ".join(fmt(p[0] if p else None, size, args.timeout)
                                             for p in result["transfers"]))  # fmt: skip
            return 0
        print(f"photo {original.stat().st_size / 1e6:.2f} MB, {size / 1e6:.2f} MB as p2pchat "
              "sends it (original: true), moved by each tool; p2pchat | bare aiortc | wormhole "
              "cubic | wormhole BBR", flush=True)  # fmt: skip
        only = set(args.only.split(","))
        for rtt in args.rtt:
            for loss in args.loss:
                r = cell(loss, rtt, photo, args.timeout, only)
                if args.json:
                    print(json.dumps(r), flush=True)
                    continue
                keys = ("p2pchat_s", "bare_aiortc_s", "wormhole_cubic_s", "wormhole_bbr_s")
                cols = [fmt(r.get(k), size, args.timeout) if k in r else "-" for k in keys]
                drops = r.get("p2pchat_rcvbuf_drops")
                note = f" (receiver socket full: {drops} dropped)" if drops else ""
                print(f"loss {loss:4g}% RTT {rtt:4g} ms | " + " | ".join(cols) + note, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
