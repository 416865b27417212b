"""A real coturn ``turnserver`` on 127.0.0.1 for tests and benchmarks.

``running_coturn()`` writes a temporary config (loopback listener and relay, no TLS,
no CLI, loopback peers allowed), starts ``/usr/bin/turnserver`` on a free port, waits
until it answers a STUN binding request, and stops it afterwards. Use either long-term
credentials (``user``/``password``) or the REST shared secret (``static_auth_secret``).

    with running_coturn() as turn:
        IceSettings(turn_url=turn.url, turn_username=turn.user,
                    turn_credential=turn.password, relay_only=True)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.procs import terminate

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
REALM = "p2pchat.test"
_STUN_MAGIC_COOKIE = 0x2112A442


@dataclass(frozen=True)
class CoturnServer:
    port: int
    user: str | None
    password: str | None
    static_auth_secret: str | None
    realm: str
    log_path: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log(self) -> str:
        """The server's log (useful in an assertion message when something fails)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def coturn_available() -> bool:
    return os.access(TURNSERVER, os.X_OK)


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no free port on 127.0.0.1")


def _answers_stun(port: int) -> bool:
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", 0x0001, 0, _STUN_MAGIC_COOKIE) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(request, ("127.0.0.1", port))
            response, _ = sock.recvfrom(2048)
        except OSError:  # refused (not listening yet) or timed out
            return False
    return len(response) >= 20 and response[:2] == b"\x01\x01" and response[8:20] == transaction


@contextlib.contextmanager
def running_coturn(
    *,
    user: str | None = "p2pchat-test",
    password: str | None = None,
    static_auth_secret: str | None = None,
    startup_timeout: float = 10.0,
) -> Iterator[CoturnServer]:
    """Run coturn on 127.0.0.1 for the duration of the ``with`` block.

    With ``static_auth_secret`` the server uses the TURN REST API
    (``use-auth-secret``); otherwise long-term credentials ``user:password``
    (a random password when none is given).
    """
    if static_auth_secret is None and password is None:
        password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="p2pchat-coturn-") as tmp:
        workdir = Path(tmp)
        port = _free_port()
        lines = [
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"listening-port={port}",
            f"realm={REALM}",
            "allow-loopback-peers",
            "no-cli",
            "no-tls",
            "no-dtls",
            "no-multicast-peers",
            "fingerprint",
        ]
        if static_auth_secret is not None:
            lines += ["use-auth-secret", f"static-auth-secret={static_auth_secret}"]
        else:
            lines += ["lt-cred-mech", f"user={user}:{password}"]
        config = workdir / "turnserver.conf"
        config.write_text("\n".join(lines) + "\n")
        log_path = workdir / "turn.log"
        # No -n: that flag means "ignore the config file".
        process = subprocess.Popen(
            [
                TURNSERVER,
                "-c",
                str(config),
                "--log-file",
                str(log_path),
                "--simple-log",
                "--pidfile",
                str(workdir / "turnserver.pid"),
                "--db",
                str(workdir / "turndb"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
        )
        server = CoturnServer(
            port=port,
            user=None if static_auth_secret is not None else user,
            password=password if static_auth_secret is None else None,
            static_auth_secret=static_auth_secret,
            realm=REALM,
            log_path=log_path,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers_stun(port):
                if process.poll() is not None:
                    raise RuntimeError(f"turnserver exited ({process.returncode}):\n{server.log()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"turnserver did not answer on port {port}:\n{server.log()}")
                time.sleep(0.05)
            yield server
        finally:
            terminate(process)
