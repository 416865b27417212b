"""The wire half of ``MailboxClient``: one reader task and the requests that wait on it.

Responses in the mailbox protocol are not correlated with requests, so one reader
task dispatches every frame: replies wake the one waiting request of that kind,
``message`` frames go to an inbox (each other-side phase once, our own echoes
noted for the reconnect), ``error`` frames fail the request they name. The first
fatal error is kept and wakes every waiter. A dropped connection is handed to the
reconnect half (``mailbox_reconnect.Reconnector``) when the client allows it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
from typing import Any

import websockets

from p2pchat.core.errors import (
    LocalProtocolError,
    P2PChatError,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.net.mailbox_protocol import (
    _REPLY_FOR_COMMAND,
    FIX_HINT,
    HEX_RE,
    MAX_BODY_BYTES,
    MAX_PENDING_MESSAGES,
    MAX_SHORT_STRING,
    MailboxMessage,
    MailboxTimeout,
    _decode_frame,
    printable,
    refusal_error,
)
from p2pchat.net.mailbox_reconnect import Reconnector

# The client's log, as before the split: operators filter on p2pchat.net.mailbox.
log = logging.getLogger("p2pchat.net.mailbox")


class MailboxWire(Reconnector):
    """Frames in and out for ``MailboxClient`` (which sets up the attributes used here)."""

    _inbox: collections.deque[MailboxMessage]
    _inbox_changed: asyncio.Event
    _seen: set[tuple[str, str]]
    _other_side: str | None

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _fail(self, error: P2PChatError) -> P2PChatError:
        """Record the first fatal error and wake every waiter with it."""
        if self._failure is None:
            self._failure = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self._failure)
                # Waiters may have timed out already; never warn about an unread exception.
                future.exception()
        self._inbox_changed.set()
        self._usable.set()  # senders waiting for a reconnect: wake up to this failure
        return self._failure

    async def _send(self, frame: dict[str, Any]) -> None:
        self._raise_if_failed()
        await self._usable.wait()  # a reconnect under way: send on the new connection
        self._raise_if_failed()
        try:
            await self._ws.send(json.dumps(frame))
        except websockets.exceptions.ConnectionClosed as error:
            if self._may_reconnect():
                return  # the reconnect re-sends what is still needed
            raise self._fail(self._lost_error()) from error

    async def _request(
        self, frame: dict[str, Any], reply_type: str, timeout: float | None
    ) -> dict[str, Any]:
        self._raise_if_failed()
        if reply_type in self._pending:
            raise LocalProtocolError(f"a {frame['type']!r} request is already waiting")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[reply_type] = future
        self._pending_frames[reply_type] = frame
        limit = self.timeout if timeout is None else timeout
        try:
            await self._send(frame)
            done, _ = await asyncio.wait({future}, timeout=limit)
            if not done:
                raise MailboxTimeout(
                    f"The mailbox server at {self.url} did not answer {frame['type']!r} "
                    f"within {limit:g} s. {FIX_HINT}"
                )
            return future.result()
        finally:
            if self._pending.get(reply_type) is future:
                del self._pending[reply_type]
                self._pending_frames.pop(reply_type, None)

    def _lost_error(self) -> TransportError:
        return TransportError(
            f"Lost the connection to the mailbox server at {self.url}. {FIX_HINT}"
        )

    async def _read_loop(self) -> None:
        websocket = self._ws
        try:
            async for raw in websocket:
                self._dispatch(_decode_frame(raw, self.url))
            error: P2PChatError = self._lost_error()
            lost = True
        except websockets.exceptions.ConnectionClosed:
            error = self._lost_error()
            lost = True
        except P2PChatError as protocol_error:
            error, lost = protocol_error, False
            with contextlib.suppress(Exception):
                await websocket.close(1002, "protocol error")
        except Exception as bug:  # a bug here must not leave waiters hanging
            log.exception("mailbox reader failed")
            error, lost = (
                RemoteProtocolError(f"Unexpected data from the mailbox server at {self.url}."),
                False,
            )
            error.__cause__ = bug
        if lost and self._may_reconnect():
            self._start_reconnect()
            return
        if not self._disconnecting:
            log.info("mailbox connection ended: %s", type(error).__name__)
        self._fail(error)

    def _dispatch(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "message":
            self._receive_message(frame)
        elif kind == "error":
            self._receive_error(frame)
        elif kind == "pong" and (barrier := self._barriers.get(str(frame.get("pong")))):
            if not barrier.done():
                barrier.set_result(None)
        elif kind in _REPLY_FOR_COMMAND.values():
            future = self._pending.get(kind)
            if future is not None and not future.done():
                future.set_result(frame)
        # `ack`, a repeated `welcome` and unknown types are ignored (forward compatible).

    def _receive_message(self, frame: dict[str, Any]) -> None:
        side, phase, body_hex = frame.get("side"), frame.get("phase"), frame.get("body")
        if (
            not isinstance(side, str)
            or not isinstance(phase, str)
            or not isinstance(body_hex, str)
            or len(side) > MAX_SHORT_STRING
            or len(phase) > MAX_SHORT_STRING
            or len(body_hex) > 2 * MAX_BODY_BYTES
            or not HEX_RE.fullmatch(body_hex)
        ):
            raise RemoteProtocolError(
                f"The mailbox server at {self.url} relayed a malformed message."
            )
        if not self._opened:
            raise RemoteProtocolError(
                f"The mailbox server at {self.url} sent a message before the mailbox was opened."
            )
        if side == self.side:
            self._echoed.add(phase)  # stored on the server: a reconnect need not re-add it
            return  # the server echoes our own adds back
        if (side, phase) in self._seen:
            return  # re-delivered (e.g. after a re-open): each phase counts once
        if self._other_side is None:
            self._other_side = side
        elif side != self._other_side:
            raise RemoteProtocolError(
                "Messages from more than one other side arrived in the mailbox: "
                "someone else is using this code. Make a new invite."
            )
        if len(self._inbox) >= MAX_PENDING_MESSAGES:
            raise RemoteProtocolError(f"The mailbox server at {self.url} flooded us with messages.")
        self._seen.add((side, phase))
        self._inbox.append(MailboxMessage(side, phase, bytes.fromhex(body_hex)))
        self._inbox_changed.set()

    def _receive_error(self, frame: dict[str, Any]) -> None:
        text = frame.get("error")
        text = printable(text) if isinstance(text, str) else "unspecified error"
        orig = frame.get("orig")
        command = orig.get("type") if isinstance(orig, dict) else None
        command_name = printable(command, 20) if isinstance(command, str) else "a command"
        error = refusal_error(self.url, command_name, text)
        reply_type = _REPLY_FOR_COMMAND.get(command) if isinstance(command, str) else None
        future = self._pending.get(reply_type) if reply_type is not None else None
        if future is not None and not future.done():
            future.set_exception(error)
            return
        # An error for a command without a reply (bind, open, add): the session is unusable.
        self._fail(error)
