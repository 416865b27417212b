"""A small in-memory server for the magic-wormhole mailbox protocol v1.

Speaks the subset of the protocol that ``net/mailbox.py`` and the real
magic-wormhole client use (bind, list, allocate, claim, release, open, add,
close, ping), for the demo, LAN use and tests. Like the real server it relays
opaque bodies and sees only ciphertext and timing.

The state is split as in ``wormhole_mailbox_server``, one small object per
concern: ``Nameplate`` (who claimed a short name), ``Mailbox`` (the two sides,
their messages and listeners), ``AppNamespace`` (one appid's nameplates and
mailboxes), ``Rendezvous`` (all apps plus the global limits and expiry) and
``Connection`` (one WebSocket's bind/claim/open/close progress, its rate limit
and its outgoing queue). ``MailboxServer`` wires them to ``websockets``.

Limits (``ServerLimits``) are checked before anything is allocated: frame size,
messages per second, total nameplates and mailboxes, messages per mailbox,
connections, a bind deadline, idle connections and unclaimed nameplates.
Bodies, nameplates and mailbox ids are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

NAMEPLATE_RE: Final = re.compile(r"[0-9]{1,40}")
MAILBOX_ID_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SIDE_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
PHASE_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
APPID_RE: Final = re.compile(r"[\x20-\x7e]{1,128}")
MOOD_RE: Final = re.compile(r"[a-z]{1,16}")
HEX_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
MESSAGE_ID_MAX: Final = 64
WEBSOCKET_PATH: Final = "/v1"


@dataclass(frozen=True)
class ServerLimits:
    """Resource limits; every one is checked before the thing it bounds is allocated."""

    max_message_bytes: int = 64 * 1024
    messages_per_second: float = 20.0
    burst: int = 60
    # 1,000 concurrent pairings hold 2,000 connections for their lifetime (measured
    # with scripts/mailbox-load: 256 turned most of them away; 4096 peaks near 120 MiB).
    max_connections: int = 4096
    max_nameplates: int = 2048
    max_mailboxes: int = 2048
    max_messages_per_mailbox: int = 64
    bind_timeout: float = 5.0
    idle_timeout: float = 600.0
    nameplate_timeout: float = 600.0
    mailbox_timeout: float = 660.0
    send_queue: int = 256
    allow_list: bool = True
    motd: str | None = None


class CommandError(Exception):
    """A command the server refuses; becomes an ``error`` frame (the connection stays)."""

    def __init__(self, explain: str) -> None:
        super().__init__(explain)
        self.explain = explain


class ProtocolViolation(Exception):
    """Abuse or garbage from a client; the connection is closed with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Listener = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------- state


@dataclass
class Nameplate:
    """A short name pointing at one mailbox; sides map to "still claimed"."""

    name: str
    mailbox_id: str
    created: float
    sides: dict[str, bool] = field(default_factory=dict)

    def is_claimed(self) -> bool:
        return any(self.sides.values())


@dataclass
class Mailbox:
    """A two-sided store-and-forward queue; sides map to "still open"."""

    mailbox_id: str
    updated: float
    sides: dict[str, bool] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    listeners: dict[object, Listener] = field(default_factory=dict)

    def admit(self, side: str, now: float) -> None:
        """Let ``side`` in (idempotent), unless two other sides are already in."""
        if side not in self.sides and len(self.sides) >= 2:
            raise CommandError("crowded")
        self.sides[side] = True
        self.updated = now

    def add(self, message: dict[str, Any], limit: int, now: float) -> None:
        if len(self.messages) >= limit:
            raise CommandError("mailbox full")
        self.messages.append(message)
        self.updated = now
        for deliver in list(self.listeners.values()):
            deliver(message)

    def close_side(self, side: str, now: float) -> bool:
        """Mark ``side`` closed; True when no side remains open (delete the mailbox)."""
        if side in self.sides:
            self.sides[side] = False
        self.updated = now
        return not any(self.sides.values())


class AppNamespace:
    """One appid's nameplates and mailboxes (apps never see each other's)."""

    def __init__(self, rendezvous: Rendezvous) -> None:
        self._rendezvous = rendezvous
        self.nameplates: dict[str, Nameplate] = {}
        self.mailboxes: dict[str, Mailbox] = {}

    def is_empty(self) -> bool:
        return not self.nameplates and not self.mailboxes

    def list_nameplates(self) -> list[str]:
        return sorted(self.nameplates, key=lambda name: (len(name), name))

    def allocate(self, side: str, now: float) -> str:
        name = self._free_nameplate()
        self.claim(name, side, now)
        return name

    def _free_nameplate(self) -> str:
        used = self.nameplates.keys()
        for digits in range(1, 4):
            free = [str(n) for n in range(10 ** (digits - 1), 10**digits) if str(n) not in used]
            if free:
                return random.choice(free)
        # 999 in use: the limit on nameplates keeps this search short.
        for _ in range(1000):
            name = str(random.randrange(1000, 1_000_000))
            if name not in used:
                return name
        raise CommandError("no free nameplate, try again later")

    def claim(self, name: str, side: str, now: float) -> str:
        nameplate = self.nameplates.get(name)
        if nameplate is None:
            self._rendezvous.reserve(nameplates=1, mailboxes=1)
            mailbox = self._create_mailbox(self._rendezvous.new_mailbox_id(), now)
            nameplate = Nameplate(name=name, mailbox_id=mailbox.mailbox_id, created=now)
            self.nameplates[name] = nameplate
        if nameplate.sides.get(side) is False:
            # Claiming again could make a new mailbox; the real server forbids it too.
            raise CommandError("reclaimed")
        if side not in nameplate.sides and len(nameplate.sides) >= 2:
            raise CommandError("crowded")
        self.mailboxes[nameplate.mailbox_id].admit(side, now)
        nameplate.sides[side] = True
        return nameplate.mailbox_id

    def release(self, name: str, side: str) -> None:
        nameplate = self.nameplates.get(name)
        if nameplate is None or side not in nameplate.sides:
            return
        nameplate.sides[side] = False
        if not nameplate.is_claimed():
            del self.nameplates[name]

    def open(self, mailbox_id: str, side: str, now: float) -> Mailbox:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is None:
            self._rendezvous.reserve(nameplates=0, mailboxes=1)
            mailbox = self._create_mailbox(mailbox_id, now)
        mailbox.admit(side, now)
        return mailbox

    def close(self, mailbox_id: str, side: str, now: float) -> None:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is not None and mailbox.close_side(side, now):
            self._delete_mailbox(mailbox)

    def prune(self, now: float, limits: ServerLimits) -> None:
        for name, nameplate in list(self.nameplates.items()):
            lonely = len(nameplate.sides) < 2
            if lonely and now - nameplate.created > limits.nameplate_timeout:
                del self.nameplates[name]
        for mailbox in list(self.mailboxes.values()):
            if mailbox.listeners:
                mailbox.updated = now
            elif now - mailbox.updated > limits.mailbox_timeout:
                self._delete_mailbox(mailbox)

    def _create_mailbox(self, mailbox_id: str, now: float) -> Mailbox:
        mailbox = Mailbox(mailbox_id=mailbox_id, updated=now)
        self.mailboxes[mailbox_id] = mailbox
        return mailbox

    def _delete_mailbox(self, mailbox: Mailbox) -> None:
        self.mailboxes.pop(mailbox.mailbox_id, None)
        for name, nameplate in list(self.nameplates.items()):
            if nameplate.mailbox_id == mailbox.mailbox_id:
                del self.nameplates[name]
        mailbox.listeners.clear()


class Rendezvous:
    """All appids, the global capacity limits, and expiry."""

    def __init__(self, limits: ServerLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._apps: dict[str, AppNamespace] = {}

    def app(self, appid: str) -> AppNamespace:
        namespace = self._apps.get(appid)
        if namespace is None:
            namespace = self._apps[appid] = AppNamespace(self)
        return namespace

    def count(self) -> tuple[int, int]:
        nameplates = sum(len(app.nameplates) for app in self._apps.values())
        mailboxes = sum(len(app.mailboxes) for app in self._apps.values())
        return nameplates, mailboxes

    def reserve(self, *, nameplates: int, mailboxes: int) -> None:
        in_use_nameplates, in_use_mailboxes = self.count()
        if in_use_nameplates + nameplates > self.limits.max_nameplates:
            raise CommandError("too many nameplates in use on this server, try again later")
        if in_use_mailboxes + mailboxes > self.limits.max_mailboxes:
            raise CommandError("too many mailboxes in use on this server, try again later")

    def new_mailbox_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        while True:
            mailbox_id = "".join(random.choice(alphabet) for _ in range(13))
            if all(mailbox_id not in app.mailboxes for app in self._apps.values()):
                return mailbox_id

    def prune(self) -> None:
        now = self.clock()
        for appid, namespace in list(self._apps.items()):
            namespace.prune(now, self.limits)
            if namespace.is_empty():
                del self._apps[appid]


# ---------------------------------------------------------------- connection


class RateLimiter:
    """Token bucket: ``rate`` commands per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


def _require(frame: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = frame.get(key)
    if value is None:
        raise CommandError(f"{what} requires '{key}'")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise CommandError(f"invalid '{key}'")
    return value


class Connection:
    """One client's protocol state: bind, then at most one allocate/claim/release/open/close."""

    def __init__(self, rendezvous: Rendezvous, send: Callable[[dict[str, Any]], None]) -> None:
        self._rendezvous = rendezvous
        self._send = send
        self.appid: str | None = None
        self.side: str | None = None
        self._did_allocate = False
        self._claimed_nameplate: str | None = None
        self._did_release = False
        self._mailbox: Mailbox | None = None
        self._mailbox_id: str | None = None
        self._did_close = False

    @property
    def bound(self) -> bool:
        return self.side is not None

    def welcome(self) -> None:
        welcome: dict[str, Any] = {}
        if self._rendezvous.limits.motd:
            welcome["motd"] = self._rendezvous.limits.motd
        self.reply("welcome", welcome=welcome)

    def reply(self, kind: str, **fields: Any) -> None:
        self._send({"type": kind, **fields, "server_tx": time.time()})

    def receive(self, frame: dict[str, Any]) -> None:
        """Handle one decoded command; refusals become ``error`` frames."""
        try:
            kind = frame.get("type")
            if not isinstance(kind, str):
                raise CommandError("missing 'type'")
            message_id = frame.get("id")
            if not isinstance(message_id, str | int | None) or (
                isinstance(message_id, str) and len(message_id) > MESSAGE_ID_MAX
            ):
                raise CommandError("invalid 'id'")
            self.reply("ack", id=message_id)
            handler = self._HANDLERS.get(kind)
            if handler is None:
                raise CommandError("unknown type")
            if kind not in ("ping", "bind") and not self.bound:
                raise CommandError("must bind first")
            handler(self, frame)
        except CommandError as error:
            self.reply("error", error=error.explain, orig=frame)

    def disconnected(self) -> None:
        if self._mailbox is not None:
            self._mailbox.listeners.pop(self, None)

    # The handlers run only after bind (except ping and bind), so appid/side are set.

    def _app(self) -> AppNamespace:
        assert self.appid is not None
        return self._rendezvous.app(self.appid)

    def _side(self) -> str:
        assert self.side is not None
        return self.side

    def _ping(self, frame: dict[str, Any]) -> None:
        if "ping" not in frame:
            raise CommandError("ping requires 'ping'")
        ping = frame["ping"]
        if not isinstance(ping, int | str) or len(str(ping)) > MESSAGE_ID_MAX:
            raise CommandError("invalid 'ping'")
        self.reply("pong", pong=ping)

    def _bind(self, frame: dict[str, Any]) -> None:
        if self.bound:
            raise CommandError("already bound")
        appid = _require(frame, "appid", APPID_RE, "bind")
        side = _require(frame, "side", SIDE_RE, "bind")
        self.appid, self.side = appid, side

    def _list(self, frame: dict[str, Any]) -> None:
        names = self._app().list_nameplates() if self._rendezvous.limits.allow_list else []
        self.reply("nameplates", nameplates=[{"id": name} for name in names])

    def _allocate(self, frame: dict[str, Any]) -> None:
        if self._did_allocate:
            raise CommandError("you already allocated one, don't be greedy")
        name = self._app().allocate(self._side(), self._rendezvous.clock())
        self._did_allocate = True
        self.reply("allocated", nameplate=name)

    def _claim(self, frame: dict[str, Any]) -> None:
        name = _require(frame, "nameplate", NAMEPLATE_RE, "claim")
        if self._claimed_nameplate is not None:
            raise CommandError("only one claim per connection")
        mailbox_id = self._app().claim(name, self._side(), self._rendezvous.clock())
        self._claimed_nameplate = name
        self.reply("claimed", mailbox=mailbox_id)

    def _release(self, frame: dict[str, Any]) -> None:
        if self._did_release:
            raise CommandError("only one release per connection")
        if "nameplate" in frame:
            name = _require(frame, "nameplate", NAMEPLATE_RE, "release")
            if self._claimed_nameplate is not None and name != self._claimed_nameplate:
                raise CommandError("release and claim must use same nameplate")
        elif self._claimed_nameplate is not None:
            name = self._claimed_nameplate
        else:
            raise CommandError("release without nameplate must follow claim")
        self._did_release = True
        self._app().release(name, self._side())
        self.reply("released")

    def _open(self, frame: dict[str, Any]) -> None:
        if self._mailbox is not None:
            raise CommandError("only one open per connection")
        mailbox_id = _require(frame, "mailbox", MAILBOX_ID_RE, "open")
        mailbox = self._app().open(mailbox_id, self._side(), self._rendezvous.clock())
        self._mailbox, self._mailbox_id = mailbox, mailbox_id
        backlog = list(mailbox.messages)
        mailbox.listeners[self] = self._deliver
        for message in backlog:
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        self.reply("message", **message)

    def _add(self, frame: dict[str, Any]) -> None:
        if self._mailbox is None:
            raise CommandError("must open mailbox before adding")
        phase = _require(frame, "phase", PHASE_RE, "add")
        if "body" not in frame:
            raise CommandError("missing 'body'")
        body = frame["body"]
        if not isinstance(body, str) or not HEX_RE.fullmatch(body):
            raise CommandError("'body' must be a hex string")
        message = {
            "side": self._side(),
            "phase": phase,
            "body": body,
            "server_rx": time.time(),
            "id": frame.get("id"),
        }
        limits = self._rendezvous.limits
        self._mailbox.add(message, limits.max_messages_per_mailbox, self._rendezvous.clock())

    def _close(self, frame: dict[str, Any]) -> None:
        if self._did_close:
            raise CommandError("only one close per connection")
        if "mailbox" in frame:
            mailbox_id = _require(frame, "mailbox", MAILBOX_ID_RE, "close")
            if self._mailbox_id is not None and mailbox_id != self._mailbox_id:
                raise CommandError("open and close must use same mailbox")
        elif self._mailbox_id is not None:
            mailbox_id = self._mailbox_id
        else:
            raise CommandError("close without mailbox must follow open")
        mood = frame.get("mood")
        if mood is not None and (not isinstance(mood, str) or not MOOD_RE.fullmatch(mood)):
            raise CommandError("invalid 'mood'")
        if self._mailbox is not None:
            self._mailbox.listeners.pop(self, None)
        self._did_close = True
        self._mailbox = None
        self._app().close(mailbox_id, self._side(), self._rendezvous.clock())
        self.reply("closed")

    _HANDLERS: Final[dict[str, Callable[[Connection, dict[str, Any]], None]]] = {
        "ping": _ping,
        "bind": _bind,
        "list": _list,
        "allocate": _allocate,
        "claim": _claim,
        "release": _release,
        "open": _open,
        "add": _add,
        "close": _close,
    }


# -------------------------------------------------------------------- server


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
        self, host: str = "127.0.0.1", port: int = 0, limits: ServerLimits | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits or ServerLimits()
        self._rendezvous = Rendezvous(self.limits, time.monotonic)
        self._server: Server | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._connections = 0
        self.url: str | None = None

    @property
    def rendezvous(self) -> Rendezvous:
        return self._rendezvous

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
        self._pruner = asyncio.get_running_loop().create_task(self._prune_loop())
        log.info("mailbox server listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
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
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too busy, try later\n")
        return None

    async def _prune_loop(self) -> None:
        period = min(self.limits.nameplate_timeout, self.limits.mailbox_timeout) / 2
        period = max(0.05, min(60.0, period))
        while True:
            await asyncio.sleep(period)
            self._rendezvous.prune()

    async def _handle(self, websocket: ServerConnection) -> None:
        self._connections += 1
        outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        overflowed = False

        def send(frame: dict[str, Any]) -> None:
            nonlocal overflowed
            if outgoing.qsize() >= self.limits.send_queue:
                overflowed = True  # a client that does not read: cut it below
                return
            outgoing.put_nowait(frame)

        connection = Connection(self._rendezvous, send)
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
            log.info("closing a mailbox connection: %s", violation.reason)
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
