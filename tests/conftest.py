"""Project-wide pytest fixtures: mailbox (rendezvous) servers on 127.0.0.1.

Fixtures
--------
``real_mailbox_server`` (session scope, sync): the real Twisted
    ``magic-wormhole-mailbox-server`` (``twist wormhole-mailbox``) listening on a
    free port of 127.0.0.1 with an in-memory database; yields its URL
    ``ws://127.0.0.1:PORT/v1``. Shared by the whole session, so allocate
    nameplates (or use ones unlikely to clash) rather than hard-coding them.
    Skips the test when ``twist`` is not installed.

``embedded_mailbox`` (function scope, async): our ``MailboxServer`` with default
    limits on 127.0.0.1:0; yields its URL. Fresh state for every test.

``mailbox_process`` (module scope, sync): ``p2pchat mailbox`` as a real process on
    127.0.0.1:0 (``tests.e2e.procs.running_mailbox``); yields its URL.

``config_dirs`` (function scope): two fresh, empty config directories (A, B).

``transit_relay`` (session scope, sync): the real ``magic-wormhole-transit-relay``
    (``twistd transitrelay``) on a free port of 127.0.0.1; yields its address
    ``tcp:127.0.0.1:PORT``.

``_no_public_servers`` (autouse): the suite never contacts a public server. The
    default STUN servers, transit relay and mailbox are refused at name
    resolution, and so is every address that is not loopback, private or in a
    namespace-lab range; a test that tries fails with the host it tried.

Helpers (import from ``tests.conftest``)
----------------------------------------
``start_real_mailbox_server(workdir, *extra_args)``: context manager running
    another real server (e.g. ``"--motd=hello"`` or ``"--signal-error=down"``);
    yields its URL.
``free_tcp_port()``: a port nobody listens on (for "unreachable" tests).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import running_mailbox, terminate

_STARTED_RE = re.compile(r"Site starting on (\d+)")
_TRANSIT_STARTED_RE = re.compile(r"ServerFactory starting on (\d+)")


def _twist_executable() -> str | None:
    candidate = Path(sys.executable).with_name("twist")
    if candidate.exists():
        return str(candidate)
    return shutil.which("twist")


def free_tcp_port() -> int:
    """A loopback TCP port that was free a moment ago (nobody listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def start_real_mailbox_server(workdir: Path, *extra_args: str) -> Iterator[str]:
    """Run ``twist wormhole-mailbox`` on 127.0.0.1:0 until the block ends; yield its URL."""
    twist = _twist_executable()
    if twist is None:
        pytest.skip("magic-wormhole-mailbox-server (twist) is not installed")
    argv = [
        twist,
        "wormhole-mailbox",
        "--port=tcp:0:interface=127.0.0.1",
        "--channel-db=:memory:",
        "--blur-usage=3600",
        *extra_args,
    ]
    with _twisted_server(argv, workdir, "mailbox-server", _STARTED_RE) as port:
        yield f"ws://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def _twisted_server(
    argv: list[str], workdir: Path, name: str, started: re.Pattern[str]
) -> Iterator[int]:
    """Run a Twisted server on 127.0.0.1:0 until the block ends; yield the port its log names."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 20
        while (match := started.search(log_path.read_text(errors="replace"))) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the {name} did not start: see {log_path}")
            time.sleep(0.05)
        yield int(match.group(1))
    finally:
        terminate(process)


@pytest.fixture(scope="session")
def real_mailbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_real_mailbox_server(tmp_path_factory.mktemp("real-mailbox")) as url:
        yield url


@pytest.fixture
async def embedded_mailbox() -> AsyncIterator[str]:
    from p2pchat.net.mailbox_server import MailboxServer

    server = MailboxServer()
    url = await server.start()
    try:
        yield url
    finally:
        await server.stop()


@pytest.fixture(scope="module")
def mailbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`p2pchat mailbox` as a real process on 127.0.0.1; yields its ws:// URL."""
    with running_mailbox(tmp_path_factory.mktemp("mailbox-config")) as url:
        yield url


@pytest.fixture
def config_dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "config-a", tmp_path / "config-b"
    a.mkdir()
    b.mkdir()
    return a, b


@contextlib.contextmanager
def start_transit_relay(workdir: Path) -> Iterator[str]:
    """Run the real transit relay on 127.0.0.1:0 until the block ends; yield tcp:HOST:PORT."""
    twistd = Path(sys.executable).with_name("twistd")
    if not twistd.exists():
        pytest.skip("magic-wormhole-transit-relay (twistd) is not installed")
    argv = [
        str(twistd),
        "--nodaemon",
        "--pidfile=",
        "transitrelay",
        "--port=tcp:0:interface=127.0.0.1",
    ]
    with _twisted_server(argv, workdir, "transit-relay", _TRANSIT_STARTED_RE) as port:
        yield f"tcp:127.0.0.1:{port}"


@pytest.fixture(scope="session")
def transit_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_transit_relay(tmp_path_factory.mktemp("transit-relay")) as address:
        yield address


@pytest.fixture(autouse=True)
def _no_public_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    from tests.netguard import install

    attempts = install(monkeypatch.setattr)
    yield attempts
    assert not attempts, f"the test tried to contact public servers: {attempts}"
