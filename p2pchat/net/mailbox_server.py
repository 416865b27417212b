"""A small in-memory server for the magic-wormhole mailbox protocol v1.

Speaks the subset of the protocol that ``net/mailbox.py`` and the real
magic-wormhole client use (bind, list, allocate, claim, release, open, add,
close, ping), for the demo, LAN use and tests. Like the real server it relays
opaque bodies and sees only ciphertext and timing.

The state is split as in ``wormhole_mailbox_server``, one small object per
concern: ``mailbox_rendezvous`` holds ``Nameplate``, ``Mailbox``,
``AppNamespace`` and ``Rendezvous`` (all apps plus the global limits and
expiry); ``mailbox_connection`` holds ``Connection`` (one WebSocket's
bind/claim/open/close progress) and its ``RateLimiter``. This module's
``MailboxServer`` wires them to ``websockets``: frames in and out, the outgoing
queue, pruning, closing abusive clients, and the operator log
(``mailbox_oplog``: counts and refusals once a minute and on change).

Limits (``ServerLimits``) are checked before anything is allocated: frame size,
messages per second, total nameplates and mailboxes, messages per mailbox,
connections, the share of connections, nameplates and mailboxes one client
address may hold, a bind deadline, idle connections, unclaimed nameplates, and
a short grace for what a disconnected client left behind.
Bodies, codes, nameplates, mailbox ids, sides and addresses are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from http import HTTPStatus
from typing import Any, Final

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from p2pchat.net.mailbox_connection import Connection, RateLimiter
from p2pchat.net.mailbox_oplog import OperatorLog, Snapshot
from p2pchat.net.mailbox_rendezvous import Rendezvous, ServerLimits, client_key

log = logging.getLogger(__name__)

WEBSOCKET_PATH: Final = "/v1"


class ProtocolViolation(Exception):
    """Abuse or garbage from a client; the connection is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _decode(raw: str | bytes) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raise ProtocolViolation(1003, "binary frames are not part of the protocol")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise ProtocolViolation(1007, "invalid JSON") from error
    if not isinstance(frame, dict):
        raise ProtocolViolation(1007, "a command is a JSON object")
    return frame


class MailboxServer:
    """The embedded mailbox server: ``await start()`` returns ``ws://HOST:PORT/v1``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: ServerLimits | None = None,
        *,
        report_every: float = 60.0,
        report_gap: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or ServerLimits()
        self._rendezvous = Rendezvous(self.limits, time.monotonic)
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._connections = 0
        self._by_client: Counter[str] = Counter()
        self.operator_log = OperatorLog(
            self.snapshot, self._rendezvous.refusals, every=report_every, gap=report_gap
        )
        self.url: str | None = None

    @property
    def rendezvous(self) -> Rendezvous:
        return self._rendezvous

    def snapshot(self) -> Snapshot:
        nameplates, mailboxes = self._rendezvous.count()
        return Snapshot(self._connections, len(self._by_client), nameplates, mailboxes)

    async def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("the mailbox server is already running")
        self._stopped.clear()
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_request,
            max_size=self.limits.max_message_bytes,
            compression=None,
            open_timeout=self.limits.bind_timeout,
            ping_interval=30,
            ping_timeout=60,
            close_timeout=2,
            server_header=None,
        )
        port = self._server.sockets[0].getsockname()[1]
        self.port = port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"ws://{host}:{port}{WEBSOCKET_PATH}"
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._prune_loop()),
            loop.create_task(self.operator_log.run()),
        ]
        limits = self.limits
        log.info(
            "mailbox server listening on %s; limits: %d connections (%d per address), "
            "%d nameplates (%d per address), %d mailboxes (%d per address), "
            "abandoned ones freed after %g s; `list` %s",
            self.url,
            limits.max_connections,
            limits.max_connections_per_client,
            limits.max_nameplates,
            limits.max_nameplates_per_client,
            limits.max_mailboxes,
            limits.max_mailboxes_per_client,
            limits.abandoned_grace,
            "answered" if limits.allow_list else "answered with nothing",
        )
        return self.url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._stopped.set()

    async def serve_forever(self) -> None:
        """Start if needed, then run until ``stop()`` (or cancellation)."""
        if self._server is None:
            await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> MailboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.rstrip("/") != WEBSOCKET_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "The mailbox is at /v1\n")
        if self._connections >= self.limits.max_connections:
            self._rendezvous.refusals["connection limit reached"] += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too busy, try later\n")
        client = self._client_of(connection)
        if self._by_client[client] >= self.limits.max_connections_per_client:
            self._rendezvous.refusals["too many connections from one address"] += 1
            return connection.respond(
                HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections from your address\n"
            )
        return None

    @staticmethod
    def _client_of(connection: ServerConnection) -> str:
        address = connection.remote_address
        host = address[0] if isinstance(address, tuple) and address else str(address)
        return client_key(str(host))

    async def _prune_loop(self) -> None:
        limits = self.limits
        period = min(limits.nameplate_timeout, limits.mailbox_timeout, limits.abandoned_grace) / 2
        period = max(0.05, min(60.0, period))
        while True:
            await asyncio.sleep(period)
            self._rendezvous.prune()

    async def _handle(self, websocket: ServerConnection) -> None:
        client = self._client_of(websocket)
        self._connections += 1
        self._by_client[client] += 1
        outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        overflowed = False

        def send(frame: dict[str, Any]) -> None:
            nonlocal overflowed
            if outgoing.qsize() >= self.limits.send_queue:
                overflowed = True  # a client that does not read: cut it below
                return
            outgoing.put_nowait(frame)

        connection = Connection(self._rendezvous, send, client)
        writer = asyncio.get_running_loop().create_task(self._write_loop(websocket, outgoing))
        limiter = RateLimiter(self.limits.messages_per_second, self.limits.burst, time.monotonic)
        try:
            connection.welcome()
            while not overflowed:
                timeout = self.limits.idle_timeout if connection.bound else self.limits.bind_timeout
                try:
                    raw = await asyncio.wait_for(websocket.recv(), timeout)
                except TimeoutError:
                    reason = "idle timeout" if connection.bound else "no bind in time"
                    raise ProtocolViolation(1008, reason) from None
                if not limiter.allow():
                    raise ProtocolViolation(1008, "too many messages, slow down")
                connection.receive(_decode(raw))
            raise ProtocolViolation(1008, "client is not reading its messages")
        except ProtocolViolation as violation:
            self._rendezvous.refusals[f"cut off: {violation.reason}"] += 1
            log.debug("closing a mailbox connection: %s", violation.reason)
            await self._drain(outgoing)
            await self._close_discarding_input(websocket, violation.code, violation.reason)
        except ConnectionClosed:
            pass
        finally:
            connection.disconnected()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._connections -= 1
            self._by_client[client] -= 1
            if self._by_client[client] <= 0:
                del self._by_client[client]

    @staticmethod
    async def _close_discarding_input(websocket: ServerConnection, code: int, reason: str) -> None:
        # A flooding client's unread frames fill the receive buffer, which would hide
        # its close reply until close_timeout; keep reading (and dropping) meanwhile.
        async def discard() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for _ in websocket:
                    pass

        discarding = asyncio.get_running_loop().create_task(discard())
        try:
            await websocket.close(code, reason)
        finally:
            discarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await discarding

    @staticmethod
    async def _drain(outgoing: asyncio.Queue[dict[str, Any]]) -> None:
        # Let the writer flush a last `error` frame before the close frame.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await outgoing.join()

    @staticmethod
    async def _write_loop(
        websocket: ServerConnection, outgoing: asyncio.Queue[dict[str, Any]]
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await outgoing.get()
                try:
                    await websocket.send(json.dumps(frame))
                finally:
                    outgoing.task_done()
