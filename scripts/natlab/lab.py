"""The lab's topology and servers: namespaces, veths, NAT rules, impairment (netem or
nftables loss, or the user-space lossy link), coturn and the mailbox, and teardown."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lossy_link import LinkSpec

from natlab.base import (
    CLIENTS,
    MAILBOX_PORT,
    PUBLIC_IP,
    ROOT,
    SINK_IP,
    SINK_RULES,
    TURN_PORT,
    LabError,
    log,
    p2pchat_env,
    read_line,
    remove_namespace,
    run,
    stderr_of,
)

if TYPE_CHECKING:
    from lossy_link import LossyLink


@dataclass
class Lab:
    prefix: str
    workdir: Path
    netem: str | None
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    turn_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    mailbox_url: str = ""
    netem_notes: list[str] = field(default_factory=list)
    link: LinkSpec | None = None
    lossy: LossyLink | None = None

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def in_ns(self, name: str, *args: str, check: bool = True) -> str:
        return run("ip", "netns", "exec", self.ns(name), *args, check=check)

    # ------------------------------------------------------------------ topology
    def add_namespace(self, name: str) -> None:
        full = self.ns(name)
        run("ip", "netns", "add", full)
        self.namespaces.append(full)
        run("ip", "-n", full, "link", "set", "lo", "up")
        # IPv4 only: no link-local IPv6 candidates that would bypass the NATs' logic.
        self.in_ns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.in_ns(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")

    def veth(self, ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
        # Created directly inside the lab namespaces: the host's namespace never
        # sees these interfaces, not even for a moment.
        run(
            "ip", "link", "add", "name", if_a, "netns", self.ns(ns_a),
            "type", "veth", "peer", "name", if_b, "netns", self.ns(ns_b),
        )  # fmt: skip

    def build(self) -> None:
        self.add_namespace("pub")
        run("ip", "-n", self.ns("pub"), "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.ns("pub"), "addr", "add", f"{PUBLIC_IP}/24", "dev", "br0")
        run("ip", "-n", self.ns("pub"), "link", "set", "br0", "up")
        # The "rest of the internet": a default gateway that silently drops what it
        # gets, as a real one would for private addresses. Without it, sending to a
        # peer's private host candidate fails with "network unreachable" at once,
        # and coturn tears down the whole allocation on that error.
        self.add_namespace("sink")
        self.veth("sink", "wan", "pub", "port-sink")
        run("ip", "-n", self.ns("pub"), "link", "set", "port-sink", "master", "br0")
        run("ip", "-n", self.ns("pub"), "link", "set", "port-sink", "up")
        run("ip", "-n", self.ns("sink"), "addr", "add", f"{SINK_IP}/24", "dev", "wan")
        run("ip", "-n", self.ns("sink"), "link", "set", "wan", "up")
        self.in_ns("sink", "sysctl", "-qw", "net.ipv4.ip_forward=0")
        run("ip", "netns", "exec", self.ns("sink"), "nft", "-f", "-", input_text=SINK_RULES)
        run("ip", "-n", self.ns("pub"), "route", "add", "default", "via", SINK_IP)
        for client, (index, kind) in CLIENTS.items():
            nat, host = f"nat-{client}", client
            self.add_namespace(nat)
            self.add_namespace(host)
            self.veth(nat, "wan", "pub", f"port-{client}")
            run("ip", "-n", self.ns("pub"), "link", "set", f"port-{client}", "master", "br0")
            run("ip", "-n", self.ns("pub"), "link", "set", f"port-{client}", "up")
            self.home_link(client, index)
            run("ip", "-n", self.ns(nat), "addr", "add", f"100.64.0.{10 + index}/24", "dev", "wan")
            run("ip", "-n", self.ns(nat), "link", "set", "wan", "up")
            run("ip", "-n", self.ns(nat), "route", "add", "default", "via", SINK_IP)
            self.in_ns(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            self.nat_rules(nat, kind)
            run("ip", "-n", self.ns(host), "route", "add", "default", "via", f"10.77.{index}.1")
            if self.netem:
                self.impair(nat, "lan")
                self.impair(host, "eth0")

    def home_link(self, client: str, index: int) -> None:
        """The link between a client and its NAT: a veth, or with ``--link`` for client
        ``a`` the user-space lossy link (scripts/lossy_link.py) through PREFIX-wire."""
        nat, host = self.ns(f"nat-{client}"), self.ns(client)
        if self.link is None or client != "a":
            self.veth(f"nat-{client}", "lan", client, "eth0")
            run("ip", "-n", nat, "addr", "add", f"10.77.{index}.1/24", "dev", "lan")
            run("ip", "-n", nat, "link", "set", "lan", "up")
            run("ip", "-n", host, "addr", "add", f"10.77.{index}.2/24", "dev", "eth0")
            run("ip", "-n", host, "link", "set", "eth0", "up")
            return
        from lossy_link import LossyLink

        self.add_namespace("wire")
        self.lossy = LossyLink(
            self.link, self.ns("wire"), (host, "eth0", f"10.77.{index}.2"),
            (nat, "lan", f"10.77.{index}.1"),
        )  # fmt: skip
        try:
            self.lossy.start()
        except RuntimeError as error:
            raise LabError(str(error)) from error
        self.netem_notes.append(
            f"link a <-> nat-a: {self.link} in each direction (user-space forwarder, "
            f"RTT about {2 * self.link.delay * 1000:g} ms)"
        )

    def nat_rules(self, nat: str, kind: str) -> None:
        masquerade = "masquerade fully-random" if kind == "symmetric" else "masquerade"
        ruleset = f"""
table ip lab_nat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" {masquerade}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        iifname "lan" oifname "wan" accept
        iifname "wan" oifname "lan" ct state established,related accept
    }}
    chain input {{
        # Unsolicited packets to the NAT itself are dropped before conntrack confirms
        # them: a confirmed entry for (peer -> our port) would make the next outgoing
        # packet to that peer clash with it and get a new port, breaking hole punching.
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state new drop
    }}
}}
"""
        run("ip", "netns", "exec", self.ns(nat), "nft", "-f", "-", input_text=ruleset)

    def impair(self, namespace: str, interface: str) -> None:
        """tc netem on the link's egress; without netem, loss through nftables."""
        args = self.netem.split() if self.netem else []
        result = subprocess.run(
            ["ip", "netns", "exec", self.ns(namespace), "tc", "qdisc", "add", "dev", interface,
             "root", "netem", *args],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode == 0:
            note = f"tc netem {self.netem} on {interface} (both directions)"
            if note not in self.netem_notes:
                self.netem_notes.append(note)
            return
        loss = _loss_percent(args)
        if loss is None:
            raise LabError(f"tc netem failed ({result.stderr.strip()}); no loss to emulate")
        per_mille = round(loss * 10)
        ruleset = f"""
table inet lab_loss {{
    chain out {{
        type filter hook postrouting priority 0; policy accept;
        oifname "{interface}" numgen random mod 1000 < {per_mille} drop
    }}
}}
"""
        run("ip", "netns", "exec", self.ns(namespace), "nft", "-f", "-", input_text=ruleset)
        note = (
            f"kernel has no netem qdisc: {loss:g}% loss emulated with nftables numgen on "
            "each link's egress (both directions)"
        )
        if note not in self.netem_notes:
            self.netem_notes.append(note)
        if "delay" in args:
            skipped = "delay not emulated (needs sch_netem in the kernel)"
            if skipped not in self.netem_notes:
                self.netem_notes.append(skipped)

    # ------------------------------------------------------------------ services
    def spawn(self, namespace: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(namespace), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.processes.append(proc)
        return proc

    def start_coturn(self, turnserver: str) -> None:
        config = self.workdir / "turnserver.conf"
        config.write_text(
            "\n".join(
                [
                    f"listening-ip={PUBLIC_IP}",
                    f"relay-ip={PUBLIC_IP}",
                    f"listening-port={TURN_PORT}",
                    "realm=nat-lab.p2pchat.test",
                    "use-auth-secret",
                    f"static-auth-secret={self.turn_secret}",
                    "fingerprint",
                    "no-cli",
                    "no-tls",
                    "no-dtls",
                    "no-multicast-peers",
                    "verbose",
                ]
            )
            + "\n"
        )
        config.chmod(0o600)
        proc = self.spawn(
            "pub",
            [
                turnserver, "-c", str(config), "--log-file", str(self.workdir / "turn.log"),
                "--simple-log", "--pidfile", str(self.workdir / "turn.pid"),
                "--db", str(self.workdir / "turndb"),
            ],
            env=dict(os.environ),
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not (self.workdir / "turn.log").exists() or "listener opened" not in self.turn_log():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"coturn did not start in the lab:\n{self.turn_log()[-2000:]}")
            time.sleep(0.1)

    def turn_log(self) -> str:
        try:
            return (self.workdir / "turn.log").read_text(errors="replace")
        except OSError:
            return ""

    def start_mailbox(self, python: str) -> None:
        proc = self.spawn(
            "pub",
            [python, "-m", "p2pchat", "mailbox", "--host", PUBLIC_IP, "--port", str(MAILBOX_PORT)],
            env=p2pchat_env(self.workdir / "mailbox-config"),
        )
        line = read_line(proc, 30)
        if not line.startswith("ws://"):
            raise LabError(f"the mailbox did not start: {line!r} {stderr_of(proc)}")
        self.mailbox_url = line.strip()

    # ------------------------------------------------------------------ teardown
    def stop_processes(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def destroy(self) -> None:
        self.stop_processes()
        if self.lossy is not None:
            self.lossy.stop()
            log(f"link packets (a>b: from a to nat-a): {self.lossy.stats}")
            self.lossy = None
        for namespace in reversed(self.namespaces):
            remove_namespace(namespace)
        self.namespaces.clear()


def _loss_percent(args: list[str]) -> float | None:
    if "loss" not in args:
        return None
    value = args[args.index("loss") + 1].rstrip("%")
    return float(value)
