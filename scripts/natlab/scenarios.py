"""The scenarios across the NATs with explicit servers (direct, relay, hidden): one
``p2pchat send`` and one ``p2pchat receive``, and what came of it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from natlab.base import (
    CLIENTS,
    PUBLIC_IP,
    SCENARIOS,
    TURN_PORT,
    p2pchat_env,
    read_line,
    stderr_of,
)
from natlab.lab import Lab


@dataclass
class Outcome:
    scenario: str
    sender: str
    receiver: str
    expected: str
    connection: dict[str, str]
    exit_codes: tuple[int | None, int | None]
    seconds: float
    relay_allocations: int
    error: str = ""

    @property
    def passed(self) -> bool:
        return (
            not self.error
            and self.exit_codes == (0, 0)
            and set(self.connection.values()) == {self.expected}
        )

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        conn = ", ".join(f"{side}={kind}" for side, kind in self.connection.items()) or "none"
        nat = f"{CLIENTS[self.sender][1]} NAT -> {CLIENTS[self.receiver][1]} NAT"
        what = (
            "server-reflexive/peer-reflexive pair through both NATs"
            if self.expected == "direct"
            else "relay candidate through coturn"
        )
        what += ", relay-only" if SCENARIOS[self.scenario][2] == "relay-only" else ""
        text = (
            f"{status} {self.scenario:6} {self.sender}->{self.receiver} ({nat}): "
            f"connection {conn} (expected {self.expected}: {what}); "
            f"exit {self.exit_codes[0]}/{self.exit_codes[1]}; {self.seconds:.1f} s; "
            f"coturn relay allocations {self.relay_allocations}"
        )
        return text + (f"; error: {self.error}" if self.error else "")


def run_scenario(lab: Lab, name: str, python: str, image: Path | None) -> Outcome:
    sender_ns, receiver_ns, use_turn, expected = SCENARIOS[name]
    network = ["--mailbox", lab.mailbox_url, "--stun", f"stun:{PUBLIC_IP}:{TURN_PORT}", "--json"]
    network.append("--no-transit")  # these scenarios are about the WebRTC paths
    extra_env: dict[str, str] = {}
    if use_turn != "no":
        network += [
            "--turn", f"turn:{PUBLIC_IP}:{TURN_PORT}?transport=udp",
            "--turn-secret-env", "P2PCHAT_LAB_TURN_SECRET",
        ]  # fmt: skip
        extra_env["P2PCHAT_LAB_TURN_SECRET"] = lab.turn_secret
    if use_turn == "relay-only":
        network.append("--relay-only")
    out_dir = lab.workdir / f"{name}-received"
    out_dir.mkdir()
    allocations_before = lab.turn_log().count("ALLOCATE processed, success")
    started = time.monotonic()
    send_args = [python, "-m", "p2pchat", "send", *network, "--text", f"hello across {name}"]
    if image is not None:
        send_args.append(str(image))
    sender = lab.spawn(sender_ns, send_args, p2pchat_env(lab.workdir / f"{name}-a", **extra_env))
    first = read_line(sender, 60)
    try:
        code = json.loads(first)["code"]
    except (ValueError, KeyError):
        sender.kill()
        sender.wait()
        problem = f"no code from sender: {stderr_of(sender)[-500:]}"
        return Outcome(name, sender_ns, receiver_ns, expected, {}, (sender.returncode, None),
                       time.monotonic() - started, 0, problem)  # fmt: skip
    receiver = lab.spawn(
        receiver_ns,
        [python, "-m", "p2pchat", "receive", *network, "--out", str(out_dir)],
        p2pchat_env(lab.workdir / f"{name}-b", P2PCHAT_CODE=code, **extra_env),
    )
    outputs: dict[str, tuple[int | None, str, str]] = {}
    for side, proc in (("sender", sender), ("receiver", receiver)):
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n(timed out after 120 s)"
        outputs[side] = (proc.returncode, out, err)
    seconds = time.monotonic() - started
    connection: dict[str, str] = {}
    for side, (_, out, _) in outputs.items():
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("event") == "paired":
                    connection[side] = str(record.get("connection"))
    error = ""
    for side, (code_, _, err) in outputs.items():
        if code_ != 0:
            error += f"{side} exit {code_}: {err.strip()[-400:]} "
    saved = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    if image is not None and not error and len(saved) != 1:
        error = f"expected 1 received image, found {len(saved)}"
    allocations = lab.turn_log().count("ALLOCATE processed, success") - allocations_before
    return Outcome(
        name, sender_ns, receiver_ns, expected, connection,
        (outputs["sender"][0], outputs["receiver"][0]), seconds, allocations, error.strip(),
    )  # fmt: skip
