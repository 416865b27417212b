"""The scenarios with DEFAULT settings (issue 18): the default servers' names resolve to
lab servers, a 5 MB photo crosses, and `wormhole send` moves the same photo beside it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from natlab.base import (
    CLIENTS,
    PUBLIC_IP,
    TURN_PORT,
    LabError,
    p2pchat_env,
    read_line,
    run,
    stderr_of,
)
from natlab.lab import Lab
from natlab.scenarios import Outcome

# ------------------------------------------------- default settings (issue 18)
#
# These scenarios run both peers with p2pchat's DEFAULT settings: no flags, no
# settings file. Each namespace gets its own /etc/hosts (``ip netns exec`` bind-mounts
# /etc/netns/NAME/hosts) in which the default public servers' names point at
# lab servers on the lab's "internet": the mailbox, coturn as STUN (the default
# STUN port is redirected to it) and a real magic-wormhole transit relay.

TRANSIT_PORT = 4001
GOOGLE_STUN_PORT = 19302
PUBLIC_NAMES = (
    "relay.magic-wormhole.io",
    "transit.magic-wormhole.io",
    "stun.l.google.com",
    "stun.cloudflare.com",
)
# Random RGBA pixels: p2pchat keeps images with alpha as PNG, and no codec can shrink
# noise, so the 5.3 MB the sender's sanitiser writes are what crosses the network.
PHOTO_SIDE = 1150
WORMHOLE_CODE = "4-lab-transit-photo"
DEFAULT_SCENARIOS = {  # name: (sender, receiver, UDP blocked at both NATs, expected)
    "default-direct": ("a", "c", False, "direct"),
    "default-transit": ("a", "b", False, "transit"),
    "default-no-udp": ("a", "c", True, "transit"),
}
NO_UDP_RULES = """
table inet lab_no_udp {
    chain forward {
        type filter hook forward priority filter - 1; policy accept;
        meta l4proto udp drop
    }
}
"""


def hosts_dir(namespace: str) -> Path:
    return Path("/etc/netns") / namespace


def point_public_names_at_the_lab(lab: Lab) -> None:
    """Per-namespace /etc/hosts: the default servers' names resolve to the lab."""
    names = " ".join(PUBLIC_NAMES)
    for client in CLIENTS:
        directory = hosts_dir(lab.ns(client))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts").write_text(f"127.0.0.1 localhost\n{PUBLIC_IP} {names}\n")


def remove_hosts_files(prefix: str) -> None:
    """Remove the lab's /etc/netns/PREFIX-* directories (and /etc/netns if left empty)."""
    base = Path("/etc/netns")
    if not base.is_dir():
        return
    for directory in base.glob(f"{prefix}-*"):
        shutil.rmtree(directory, ignore_errors=True)
    with contextlib.suppress(OSError):
        base.rmdir()


def start_default_servers(lab: Lab, python: str) -> None:
    """The transit relay on the lab's internet, and coturn answering on Google's STUN port."""
    redirect = f"""
table ip lab_stun {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr {PUBLIC_IP} udp dport {GOOGLE_STUN_PORT} redirect to :{TURN_PORT}
    }}
}}
"""
    run("ip", "netns", "exec", lab.ns("pub"), "nft", "-f", "-", input_text=redirect)
    twistd = str(Path(python).with_name("twistd"))
    log_path = lab.workdir / "transit-relay.log"
    proc = lab.spawn(
        "pub",
        [
            twistd, "--nodaemon", "--pidfile=", f"--logfile={log_path}", "transitrelay",
            f"--port=tcp:{TRANSIT_PORT}:interface={PUBLIC_IP}",
        ],
        env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while "Starting factory" not in (log_path.read_text() if log_path.exists() else ""):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"the transit relay did not start: {stderr_of(proc)[-1000:]}")
        time.sleep(0.1)
    point_public_names_at_the_lab(lab)


def make_photo(path: Path) -> Path:
    from PIL import Image

    Image.frombytes("RGBA", (PHOTO_SIDE, PHOTO_SIDE), os.urandom(PHOTO_SIDE**2 * 4)).save(path)
    return path


class TimedLines:
    """A process's stdout lines with the monotonic time each arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append((time.monotonic(), line))

    def first(self, event: str, timeout: float) -> tuple[float, dict[str, object]] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for when, line in list(self.lines):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == event:
                        return when, record
            time.sleep(0.05)
        return None

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@dataclass
class DefaultOutcome(Outcome):
    connect_seconds: float = 0.0
    photo_bytes: int = 0
    rate_mb_s: float = 0.0
    wormhole_seconds: float = 0.0
    wormhole_rate_mb_s: float = 0.0
    wormhole_error: str = ""

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        conn = ", ".join(f"{side}={kind}" for side, kind in self.connection.items()) or "none"
        nat = f"{CLIENTS[self.sender][1]} NAT -> {CLIENTS[self.receiver][1]} NAT"
        nat += ", all UDP blocked" if DEFAULT_SCENARIOS[self.scenario][2] else ""
        text = (
            f"{status} {self.scenario} {self.sender}->{self.receiver} ({nat}), default "
            f"settings: connection {conn} (expected {self.expected}); exit "
            f"{self.exit_codes[0]}/{self.exit_codes[1]}; connected in "
            f"{self.connect_seconds:.1f} s; {self.photo_bytes / 1e6:.1f} MB photo at "
            f"{self.rate_mb_s:.1f} MB/s; wormhole send via the same transit relay: "
        )
        if self.wormhole_error:
            text += f"failed ({self.wormhole_error})"
        else:
            text += f"{self.wormhole_seconds:.1f} s in all, {self.wormhole_rate_mb_s:.1f} MB/s"
        return text + (f"; error: {self.error}" if self.error else "")


def run_default_scenario(lab: Lab, name: str, python: str, photo: Path) -> DefaultOutcome:
    sender_ns, receiver_ns, block_udp, _ = DEFAULT_SCENARIOS[name]
    blocked = [f"nat-{sender_ns}", f"nat-{receiver_ns}"] if block_udp else []
    for nat in blocked:
        run("ip", "netns", "exec", lab.ns(nat), "nft", "-f", "-", input_text=NO_UDP_RULES)
    try:
        outcome = _default_transfer(lab, name, python, photo)
        if not outcome.error:
            _wormhole_transfer(lab, outcome, python, photo)
        return outcome
    finally:
        for nat in blocked:
            run("ip", "netns", "exec", lab.ns(nat), "nft", "delete", "table", "inet", "lab_no_udp")


def _default_transfer(lab: Lab, name: str, python: str, photo: Path) -> DefaultOutcome:
    sender_ns, receiver_ns, _, expected = DEFAULT_SCENARIOS[name]
    out_dir = lab.workdir / f"{name}-received"
    out_dir.mkdir()
    outcome = DefaultOutcome(name, sender_ns, receiver_ns, expected, {}, (None, None), 0.0, 0)
    started = time.monotonic()
    sender = lab.spawn(
        sender_ns,
        [python, "-m", "p2pchat", "send", "--json", "--original",
         "--text", f"hello across {name}", str(photo)],
        p2pchat_env(lab.workdir / f"{name}-a"),
    )  # fmt: skip
    first = read_line(sender, 60)
    try:
        code = json.loads(first)["code"]
    except (ValueError, KeyError):
        sender.kill()
        sender.wait()
        outcome.error = f"no code from sender: {stderr_of(sender)[-500:]}"
        return outcome
    joined = time.monotonic()
    receiver = lab.spawn(
        receiver_ns,
        [python, "-m", "p2pchat", "receive", "--json", "--out", str(out_dir)],
        p2pchat_env(lab.workdir / f"{name}-b", P2PCHAT_CODE=code),
    )
    lines = TimedLines(receiver)
    paired = lines.first("paired", 60)
    image = lines.first("image", 180) if paired else None
    errors = {}
    for side, proc in (("sender", sender), ("receiver", receiver)):
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errors[side] = proc.stderr.read() if proc.stderr else ""
    lines.join(5)
    outcome.exit_codes = (sender.returncode, receiver.returncode)
    outcome.seconds = time.monotonic() - started
    for _, line in lines.lines:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == "paired":
                outcome.connection["receiver"] = str(record.get("connection"))
    assert sender.stdout is not None
    for line in sender.stdout.read().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == "paired":
                outcome.connection["sender"] = str(record.get("connection"))
    if paired is not None:
        outcome.connect_seconds = paired[0] - joined
    if paired is not None and image is not None:
        outcome.photo_bytes = Path(str(image[1]["path"])).stat().st_size
        outcome.rate_mb_s = outcome.photo_bytes / 1e6 / max(image[0] - paired[0], 1e-3)
    problems = [
        f"{side} exit {proc.returncode}: {errors[side].strip()[-400:]}"
        for side, proc in (("sender", sender), ("receiver", receiver))
        if proc.returncode != 0
    ]
    if not problems and image is None:
        problems.append("the photo did not arrive")
    outcome.error = " ".join(problems)
    return outcome


def _wormhole_transfer(lab: Lab, outcome: DefaultOutcome, python: str, photo: Path) -> None:
    """The same photo with `wormhole send` (its defaults: the same lab servers), no direct."""
    wormhole = str(Path(python).with_name("wormhole"))
    out_dir = lab.workdir / f"{outcome.scenario}-wormhole"
    out_dir.mkdir()
    env = {**os.environ, "HOME": str(lab.workdir)}
    started = time.monotonic()
    sender = lab.spawn(
        outcome.sender,
        [wormhole, "send", "--hide-progress", "--no-listen", "--code", WORMHOLE_CODE, str(photo)],
        env,
    )
    receiver = lab.spawn(
        outcome.receiver,
        [wormhole, "receive", "--hide-progress", "--no-listen", "--accept-file",
         "-o", str(out_dir / photo.name), WORMHOLE_CODE],
        env,
    )  # fmt: skip
    try:
        _, err = receiver.communicate(timeout=180)
        sender.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        for proc in (sender, receiver):
            proc.kill()
        outcome.wormhole_error = "timed out"
        return
    outcome.wormhole_seconds = time.monotonic() - started
    received = out_dir / photo.name
    if receiver.returncode != 0 or not received.is_file():
        outcome.wormhole_error = f"exit {receiver.returncode}: {err.strip()[-300:]}"
        return
    outcome.wormhole_rate_mb_s = received.stat().st_size / 1e6 / outcome.wormhole_seconds
