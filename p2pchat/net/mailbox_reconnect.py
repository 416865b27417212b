"""Opening the mailbox WebSocket, and opening it again after it dropped.

``open_websocket`` connects and reads the server's ``welcome`` (refusals become
clear errors). ``Reconnector`` is the part of ``MailboxClient`` that survives a
dropped connection as the wormhole protocol intends: with back-off it connects
again, binds with the *same side*, claims the nameplate again (unless released),
reopens the mailbox, re-sends the requests that were waiting for an answer, and
re-adds the messages whose echo never came back. The server replays the mailbox
on ``open``; the client drops what it has already seen, so nothing is delivered
twice. Only when the server stays unreachable past ``reconnect_within`` seconds
does the client fail, saying so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from p2pchat import __version__
from p2pchat.core.errors import P2PChatError, RemoteProtocolError, TransportError
from p2pchat.net.mailbox_protocol import (
    BUSY_HINT,
    FIX_HINT,
    MAX_INCOMING_FRAME,
    MailboxRefused,
    MailboxTimeout,
    _decode_frame,
    _is_loopback_url,
    printable,
)

log = logging.getLogger(__name__)

FIRST_RETRY = 0.2
MAX_RETRY = 5.0


async def open_websocket(url: str, timeout: float) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect to ``url`` and return the WebSocket with the server's welcome."""
    where = f"the mailbox server at {url}"
    try:
        websocket = await ws_connect(
            url,
            open_timeout=timeout,
            close_timeout=2,
            max_size=MAX_INCOMING_FRAME,
            compression=None,
            user_agent_header=None,
            # Honour a configured HTTP proxy for remote servers, never for loopback.
            proxy=None if _is_loopback_url(url) else True,
        )
    except websockets.exceptions.InvalidStatus as error:
        status = error.response.status_code
        if status == 503:
            raise MailboxRefused(
                f"The mailbox server at {url} is too busy (too many connections, "
                f"or too many from your address). {BUSY_HINT}"
            ) from error
        raise TransportError(f"Cannot reach {where} (HTTP status {status}). {FIX_HINT}") from error
    except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
        reason = printable(str(error)) or type(error).__name__
        raise TransportError(f"Cannot reach {where} ({reason}). {FIX_HINT}") from error
    try:
        return websocket, await receive_welcome(websocket, url, timeout)
    except BaseException:
        await websocket.close()
        raise


async def receive_welcome(websocket: ClientConnection, url: str, timeout: float) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(websocket.recv(), timeout)
    except TimeoutError as error:
        raise MailboxTimeout(
            f"The server at {url} accepted the connection but sent no welcome within "
            f"{timeout:g} s: is it a magic-wormhole mailbox server? {FIX_HINT}"
        ) from error
    except websockets.exceptions.ConnectionClosed as error:
        raise TransportError(
            f"The mailbox server at {url} closed the connection at once. {FIX_HINT}"
        ) from error
    frame = _decode_frame(raw, url)
    if frame.get("type") != "welcome" or not isinstance(frame.get("welcome"), dict):
        raise RemoteProtocolError(
            f"The server at {url} did not greet like a magic-wormhole mailbox server. " + FIX_HINT
        )
    welcome: dict[str, Any] = frame["welcome"]
    refusal = welcome.get("error")
    if refusal is not None:
        text = printable(refusal) if isinstance(refusal, str) else "no reason given"
        raise MailboxRefused(f"The mailbox server at {url} refuses service: {text}. {FIX_HINT}")
    return welcome


def bind_frame(appid: str, side: str) -> dict[str, Any]:
    return {
        "type": "bind",
        "appid": appid,
        "side": side,
        "client_version": ["p2pchat", __version__],
    }


class _AttemptFailed(Exception):
    """This reconnect attempt's connection failed too: wait, then try again."""


class Reconnector:
    """The reconnect half of ``MailboxClient`` (which provides the attributes used here)."""

    url: str
    appid: str
    side: str
    timeout: float
    nameplate: str | None
    mailbox: str | None
    _ws: ClientConnection
    _reader: asyncio.Task[None]
    _claimed: bool
    _released: bool
    _opened: bool
    _closed: bool
    _disconnecting: bool
    _failure: P2PChatError | None
    _pending: dict[str, asyncio.Future[dict[str, Any]]]
    _pending_frames: dict[str, dict[str, Any]]
    _added: dict[str, dict[str, Any]]
    _echoed: set[str]
    _barriers: dict[str, asyncio.Future[None]]
    _usable: asyncio.Event
    _reconnecting: asyncio.Task[None] | None
    reconnect_within: float
    on_reconnecting: Callable[[bool], None] | None

    def _fail(self, error: P2PChatError) -> P2PChatError:
        raise NotImplementedError

    async def _read_loop(self) -> None:
        raise NotImplementedError

    def _may_reconnect(self) -> bool:
        return (
            self.reconnect_within > 0
            and not self._disconnecting
            and self._failure is None
            and not self._closed
        )

    def _start_reconnect(self) -> None:
        """The connection dropped (called by the reader as it ends)."""
        if not self._usable.is_set():
            return  # an attempt is under way; it notices on its own
        self._usable.clear()
        self._reconnecting = asyncio.get_running_loop().create_task(
            self._reconnect(), name="mailbox-reconnect"
        )

    def _notify(self, reconnecting: bool) -> None:
        if reconnecting:
            log.warning("reconnecting to the rendezvous server...")
        else:
            log.warning("reconnected to the rendezvous server")
        if self.on_reconnecting is not None:
            self.on_reconnecting(reconnecting)

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_within
        delay = FIRST_RETRY
        self._notify(True)
        while not self._disconnecting and self._failure is None:
            remaining = deadline - loop.time()
            try:
                await self._attempt(max(0.5, min(self.timeout, remaining)))
            except _AttemptFailed:
                pass
            except P2PChatError as refusal:  # the server answered, and said no
                self._fail(refusal)
                return
            else:
                self._usable.set()
                self._notify(False)
                return
            if loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            delay = min(delay * 2, MAX_RETRY)
        self._fail(
            TransportError(
                f"Lost the connection to the mailbox server at {self.url} and could not "
                f"reconnect within {self.reconnect_within:g} s. {FIX_HINT}"
            )
        )

    async def _attempt(self, timeout: float) -> None:
        try:
            websocket, _ = await open_websocket(self.url, timeout)
        except MailboxRefused:
            raise _AttemptFailed from None  # too busy right now: back off and retry
        except TransportError:
            raise _AttemptFailed from None
        self._ws = websocket
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(), name="mailbox-reader"
        )
        try:
            async with asyncio.timeout(timeout):
                await self._resume()
        except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
            await websocket.close()
            raise _AttemptFailed from error

    async def _resume(self) -> None:
        await self._transmit(bind_frame(self.appid, self.side))
        if self._claimed and not self._released and "claimed" not in self._pending:
            claimed = await self._ask({"type": "claim", "nameplate": self.nameplate}, "claimed")
            if self.mailbox is not None and claimed.get("mailbox") != self.mailbox:
                raise TransportError(
                    f"The mailbox server at {self.url} lost this invite while we were away "
                    "(did it restart?). Make a new invite."
                )
        if self._opened and not self._closed:
            await self._transmit({"type": "open", "mailbox": self.mailbox})
        for reply_type, frame in list(self._pending_frames.items()):
            future = self._pending.get(reply_type)
            if future is not None and not future.done():
                await self._transmit(frame)
        await self._barrier()  # the mailbox's replay has arrived: our echoes are known
        for phase, frame in list(self._added.items()):
            if phase not in self._echoed:
                await self._transmit(frame)

    async def _transmit(self, frame: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(frame))

    async def _until(self, future: asyncio.Future[Any]) -> Any:
        """``future``'s result, unless this connection ends first."""
        done, _ = await asyncio.wait({future, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        if future not in done:
            raise _AttemptFailed
        return future.result()

    async def _ask(self, frame: dict[str, Any], reply_type: str) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[reply_type] = future
        try:
            await self._transmit(frame)
            result: dict[str, Any] = await self._until(future)
            return result
        finally:
            if self._pending.get(reply_type) is future:
                del self._pending[reply_type]

    async def _barrier(self) -> None:
        token = f"resume-{secrets.token_hex(4)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[token] = future
        try:
            await self._transmit({"type": "ping", "ping": token})
            await self._until(future)
        finally:
            self._barriers.pop(token, None)
