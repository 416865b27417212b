"""Asyncio client for the magic-wormhole mailbox protocol v1 (the rendezvous).

Owns one WebSocket connection to a mailbox server (the real
``magic-wormhole-mailbox-server`` or our ``mailbox_server``): ``bind`` with an
appid and a random side id, ``allocate`` / ``claim`` / ``release`` a nameplate,
``open`` / ``add`` / ``close`` a mailbox, and deliver the *other* side's
messages. The server is untrusted: everything it sends is size-, type- and
hex-checked, and it sees only the opaque bodies the caller hands in (which the
pairing layer has already sealed). Bodies, nameplates and mailbox ids are never
logged.

Responses in this protocol are not correlated with requests, so one reader task
dispatches every frame (``mailbox_wire``): replies wake the one waiting request of
that kind, ``message`` frames go to an inbox, ``error`` frames fail the request
they name. Every wait is bounded by a timeout; a server that cannot be reached or that
goes away becomes ``TransportError`` saying which URL and how to fix it, and a
server that refuses becomes ``MailboxRefused`` (exit 4, never 1). With
``reconnect_within`` a connection that went away is first reopened
(``mailbox_reconnect``), as the wormhole protocol intends.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection

from p2pchat.core.errors import (
    LocalProtocolError,
    P2PChatError,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.net.mailbox_protocol import (  # MailboxMessage, MailboxTimeout: callers import here
    APPID_RE,
    DEFAULT_TIMEOUT,
    MAILBOX_ID_RE,
    MAX_BODY_BYTES,
    MAX_NAMEPLATES_LISTED,
    MOODS,
    SHORT_TOKEN_RE,
    MailboxMessage,
    MailboxTimeout,
    Mood,
    _check_url,
    _random_hex,
    is_valid_nameplate,
    printable,
)
from p2pchat.net.mailbox_protocol import (
    MailboxCrowded as MailboxCrowded,  # the meeting moves on when a point is taken
)
from p2pchat.net.mailbox_reconnect import bind_frame, open_websocket
from p2pchat.net.mailbox_wire import MailboxWire

log = logging.getLogger(__name__)


class MailboxClient(MailboxWire):
    """A bound connection to a mailbox server. Create it with ``await MailboxClient.connect()``.

    With ``reconnect_within > 0`` a dropped connection is opened again (same side,
    same nameplate and mailbox) for up to that many seconds; ``on_reconnecting`` is
    told when that starts (True) and when it succeeded (False).
    """

    def __init__(
        self,
        websocket: ClientConnection,
        *,
        url: str,
        appid: str,
        side: str,
        timeout: float,
        welcome: dict[str, Any],
        reconnect_within: float = 0.0,
    ) -> None:
        self._ws = websocket
        self.url = url
        self.appid = appid
        self.side = side
        self.timeout = timeout
        motd = welcome.get("motd")
        self.motd: str | None = printable(motd) if isinstance(motd, str) else None
        self.nameplate: str | None = None
        self.mailbox: str | None = None
        self._allocated = False
        self._claimed = False
        self._released = False
        self._opened = False
        self._closed = False
        self._disconnecting = False
        self._added: dict[str, dict[str, Any]] = {}  # phase -> the frame, to re-add
        self._echoed: set[str] = set()  # our phases the server has echoed (stored)
        self._seen: set[tuple[str, str]] = set()
        self._other_side: str | None = None
        self._inbox: collections.deque[MailboxMessage] = collections.deque()
        self._inbox_changed = asyncio.Event()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._pending_frames: dict[str, dict[str, Any]] = {}
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._usable = asyncio.Event()
        self._usable.set()
        self._reconnecting: asyncio.Task[None] | None = None
        self.reconnect_within = reconnect_within
        self.on_reconnecting: Callable[[bool], None] | None = None
        self._ping_counter = 0
        self._failure: P2PChatError | None = None
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(), name="mailbox-reader"
        )

    # ---------------------------------------------------------------- connect

    @classmethod
    async def connect(
        cls,
        url: str,
        appid: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        side: str | None = None,
        reconnect_within: float = 0.0,
    ) -> MailboxClient:
        """Connect, wait for ``welcome``, ``bind`` and confirm the bind with a ping."""
        _check_url(url)
        if not isinstance(appid, str) or not APPID_RE.fullmatch(appid):
            raise LocalProtocolError("appid must be 1-128 printable ASCII characters")
        side = side if side is not None else _random_hex(5)
        if not SHORT_TOKEN_RE.fullmatch(side):
            raise LocalProtocolError("side must be 1-64 printable ASCII characters")
        websocket, welcome = await open_websocket(url, timeout)
        client = cls(
            websocket,
            url=url,
            appid=appid,
            side=side,
            timeout=timeout,
            welcome=welcome,
            reconnect_within=reconnect_within,
        )
        try:
            await client._send(bind_frame(appid, side))
            # The server does not answer `bind`; a ping round trip proves it was accepted.
            await client.ping()
        except BaseException:
            await client.disconnect()
            raise
        return client

    # --------------------------------------------------------------- commands

    async def ping(self, timeout: float | None = None) -> None:
        """Round trip to the server (also proves every earlier command was processed)."""
        self._ping_counter += 1
        expected = self._ping_counter
        while True:
            reply = await self._request({"type": "ping", "ping": expected}, "pong", timeout)
            if reply.get("pong") == expected:
                return
            # A stale pong (from a ping whose wait timed out): keep waiting for ours.

    async def allocate(self, timeout: float | None = None) -> str:
        """Reserve the shortest free nameplate; returns it (claim it next)."""
        if self._allocated:
            raise LocalProtocolError("allocate() may be called only once per connection")
        self._allocated = True
        reply = await self._request({"type": "allocate"}, "allocated", timeout)
        nameplate = reply.get("nameplate")
        if not is_valid_nameplate(nameplate):
            raise self._fail(
                RemoteProtocolError(
                    f"The mailbox server at {self.url} allocated an invalid nameplate."
                )
            )
        assert isinstance(nameplate, str)
        self.nameplate = nameplate
        return nameplate

    async def claim(self, nameplate: str, timeout: float | None = None) -> str:
        """Claim ``nameplate`` (allocated or typed in); returns its mailbox id."""
        if self._claimed:
            raise LocalProtocolError("claim() may be called only once per connection")
        if not is_valid_nameplate(nameplate):
            raise LocalProtocolError("a nameplate is 1 to 40 decimal digits")
        self._claimed = True
        self.nameplate = nameplate
        reply = await self._request({"type": "claim", "nameplate": nameplate}, "claimed", timeout)
        mailbox = reply.get("mailbox")
        if not isinstance(mailbox, str) or not MAILBOX_ID_RE.fullmatch(mailbox):
            raise self._fail(
                RemoteProtocolError(f"The mailbox server at {self.url} sent an invalid mailbox id.")
            )
        return mailbox

    async def open(self, mailbox: str, timeout: float | None = None) -> None:
        """Open (subscribe to) a mailbox; the other side's messages then arrive."""
        if self._opened:
            raise LocalProtocolError("open() may be called only once per connection")
        if not isinstance(mailbox, str) or not MAILBOX_ID_RE.fullmatch(mailbox):
            raise LocalProtocolError("invalid mailbox id")
        self._opened = True
        self.mailbox = mailbox
        await self._send({"type": "open", "mailbox": mailbox})
        # `open` has no reply; an error (e.g. crowded) would arrive before this pong.
        await self.ping(timeout)
        self._raise_if_failed()

    async def add(self, phase: str, body: bytes) -> None:
        """Add one message for the other side. Each phase may be added once."""
        if not self._opened or self._closed:
            raise LocalProtocolError("add() needs an open mailbox")
        if not isinstance(phase, str) or not SHORT_TOKEN_RE.fullmatch(phase):
            raise LocalProtocolError("a phase is 1-64 printable ASCII characters")
        if not isinstance(body, bytes | bytearray):
            raise LocalProtocolError("a mailbox body is bytes")
        if len(body) > MAX_BODY_BYTES:
            raise LocalProtocolError(
                f"a mailbox message is at most {MAX_BODY_BYTES} bytes, not {len(body)}"
            )
        if phase in self._added:
            # The receiving side delivers each phase once (as magic-wormhole does).
            raise LocalProtocolError(f"phase {phase!r} was already added")
        self._raise_if_failed()
        frame = {"type": "add", "phase": phase, "body": bytes(body).hex(), "id": _random_hex(4)}
        self._added[phase] = frame
        await self._send(frame)

    async def next_message(self, timeout: float | None = None) -> MailboxMessage:
        """The next message from the other side (our own echoes are dropped).

        ``timeout=None`` waits until a message arrives or the connection fails (the
        WebSocket keepalive detects a dead server); otherwise ``MailboxTimeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._inbox:
                return self._inbox.popleft()
            self._raise_if_failed()
            self._inbox_changed.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise MailboxTimeout(f"No message from the other side within {timeout:g} s.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox_changed.wait(), remaining)

    async def release(self, nameplate: str | None = None, timeout: float | None = None) -> None:
        """Release the claimed nameplate so that it can be reused by someone else."""
        if self._released:
            raise LocalProtocolError("release() may be called only once per connection")
        nameplate = nameplate if nameplate is not None else self.nameplate
        if not is_valid_nameplate(nameplate):
            raise LocalProtocolError("release() needs the nameplate that was claimed")
        self._released = True
        await self._request({"type": "release", "nameplate": nameplate}, "released", timeout)

    async def list_nameplates(self, timeout: float | None = None) -> list[str]:
        """Nameplates currently in use on this appid (servers may answer with none)."""
        reply = await self._request({"type": "list"}, "nameplates", timeout)
        entries = reply.get("nameplates")
        if not isinstance(entries, list) or len(entries) > MAX_NAMEPLATES_LISTED:
            raise self._fail(
                RemoteProtocolError(
                    f"The mailbox server at {self.url} sent an invalid nameplate list."
                )
            )
        names = [entry.get("id") for entry in entries if isinstance(entry, dict)]
        return [name for name in names if isinstance(name, str) and is_valid_nameplate(name)]

    async def close(self, mood: Mood = "happy", timeout: float | None = None) -> None:
        """Release the nameplate, close the mailbox with ``mood``, and disconnect.

        Best effort and idempotent: a server that is gone or slow does not make it
        raise (the mailbox then expires on the server).
        """
        if mood not in MOODS:
            raise LocalProtocolError(f"mood must be one of {', '.join(MOODS)}")
        try:
            if self._failure is None and not self._closed:
                if self._claimed and not self._released and self.nameplate is not None:
                    await self.release(timeout=timeout)
                if self._opened:
                    self._closed = True
                    await self._request(
                        {"type": "close", "mailbox": self.mailbox, "mood": mood}, "closed", timeout
                    )
        except P2PChatError as error:
            log.debug("mailbox close was not confirmed: %s", type(error).__name__)
        finally:
            self._closed = True
            await self.disconnect()

    async def disconnect(self) -> None:
        """Drop the connection without closing the mailbox (it stays on the server)."""
        self._disconnecting = True
        self._fail(TransportError(f"The connection to the mailbox server at {self.url} is closed."))
        reconnecting = self._reconnecting
        if reconnecting is not None and reconnecting is not asyncio.current_task():
            reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reconnecting
        with contextlib.suppress(Exception):
            await self._ws.close()
        if self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    @property
    def connected(self) -> bool:
        return self._failure is None

    @property
    def peer_seen(self) -> bool:
        """True once a message from the other side arrived: they did join."""
        return self._other_side is not None

    async def __aenter__(self) -> MailboxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close("happy" if exc_type is None else "errory")
