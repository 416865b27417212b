"""scripts/self-host on loopback: two headless peers pair through its mailbox and
talk only through its coturn (relay-only ICE); SIGINT then stops both servers.

It runs as from a fresh clone: neither p2pchat nor the virtualenv is on PATH, and
the working directory is elsewhere. Its stderr carries both servers' logs."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

from tests.e2e.procs import ROOT, p2pchat_env, spawn, spawn_command, stop
from tests.e2e.test_relay import Lines, command, exit_status
from tests.net.coturn import coturn_available

SELF_HOST = ROOT / "scripts" / "self-host"

pytestmark = pytest.mark.skipif(not coturn_available(), reason="coturn is not installed")


def free_port_tcp_and_udp() -> int:
    """A 127.0.0.1 port free for both TCP and UDP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port")


def nobody_listens_tcp(port: int) -> bool:
    # A connect, not a bind: closed connections leave TIME_WAIT entries on the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def udp_port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_self_host_pairs_relay_only_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    turn_port = free_port_tcp_and_udp()
    low = random.randrange(50000, 60000)
    env = p2pchat_env(tmp_path / "operator")
    env["PATH"] = os.pathsep.join(("/usr/bin", "/bin"))  # no p2pchat, no venv, no pyenv
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    host = spawn_command(
        [
            *(str(SELF_HOST), "--mailbox-port", "0", "--turn-port", str(turn_port)),
            *("--relay-ports", f"{low}-{low + 63}"),
        ],
        env,
        tmp_path,
    )
    procs = [host]
    # Both servers log to its stderr (coturn verbosely): read it all along, or a full
    # pipe would stall them.
    logged: list[str] = []
    assert host.stderr is not None
    reader = threading.Thread(target=lambda: logged.extend(host.stderr or ()), daemon=True)
    reader.start()
    try:
        printed = Lines(host)
        settings_lines = []
        while not (line := printed.line(timeout=60)).startswith("# The secret"):
            if line and not line.startswith("#"):
                settings_lines.append(line)
        settings = tomllib.loads("\n".join(settings_lines))
        assert set(settings) == {"mailbox_url", "turn_url", "turn_secret"}
        mailbox_url, secret = settings["mailbox_url"], settings["turn_secret"]
        assert settings["turn_url"] == f"turn:127.0.0.1:{turn_port}?transport=udp"
        assert len(secret) == 64
        mailbox_port = int(mailbox_url.rsplit(":", 1)[1].split("/")[0])
        # The secret is on no command line (coturn reads it from a private file).
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert secret not in ps

        # A uses the printed command-line flags, B the printed settings.toml lines.
        config_a, config_b = tmp_path / "a", tmp_path / "b"
        config_a.mkdir()
        config_b.mkdir()
        (config_b / "settings.toml").write_text("\n".join([*settings_lines, "relay_only = true"]))
        peer_a = spawn(
            [
                *("headless", "--invite", "--loopback", "--mailbox", mailbox_url),
                *("--turn", settings["turn_url"], "--relay-only"),
            ],
            p2pchat_env(config_a, P2PCHAT_TURN_SECRET=secret),
            stdin=subprocess.PIPE,
        )
        procs.append(peer_a)
        a = Lines(peer_a)
        code, _ = a.until("code")
        peer_b = spawn(
            ["headless", "--join", "--loopback"],
            p2pchat_env(config_b, P2PCHAT_CODE=code["code"]),
            stdin=subprocess.PIPE,
        )
        procs.append(peer_b)
        b = Lines(peer_b)
        for peer in (a, b):
            paired, _ = peer.until("paired")
            assert paired["connection"] == "relay", paired
        command(peer_a, "send_text", text="through our own relay")
        b.text("through our own relay")
        command(peer_a, "close")
        b.until("closed")
        assert exit_status(peer_a)[0] == 0
        assert exit_status(peer_b)[0] == 0

        # SIGINT to the script alone (not its group): its trap must stop both servers.
        os.kill(host.pid, signal.SIGINT)
        status = host.wait(60)
        reader.join(10)
        err = "".join(logged)
        assert status == 0, err
        assert "self-host: stopped" in err
        assert secret not in err
        # coturn's log shows the relay allocations (it needs `verbose` for that) ...
        assert "ALLOCATE processed, success" in err
        # ... and the mailbox's operator log counts without naming codes or sides.
        assert "mailbox status: " in err and "limits: " in err
        assert code["code"] not in err
    finally:
        for proc in procs:
            stop(proc)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(host.pid, 0)
        pytest.fail("a process of self-host's group is still running")
    assert nobody_listens_tcp(mailbox_port)
    assert nobody_listens_tcp(turn_port)
    assert udp_port_is_free(turn_port)
    assert list(scratch.iterdir()) == []  # the private dir with coturn's config is gone
