"""What the service needs of a link to the peer, whichever path it takes.

``RtcLink`` (WebRTC data channels: ``direct`` or ``relay`` through TURN) and
``TransitLink`` (frames over a magic-wormhole transit relay: ``transit``) and
``DirectLink`` (the same frames over TCP on a shared network: ``lan``) all
satisfy ``Link``; the pump and the bind only ever use this interface.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Literal, Protocol

from p2pchat.core.errors import P2PChatError, TransportError
from p2pchat.core.keys import Channel

logger = logging.getLogger(__name__)

ConnectionKind = Literal["direct", "relay", "transit", "lan", "unknown"]


class Link(Protocol):
    closed: asyncio.Event
    close_reason: P2PChatError | None
    peak_buffered_amount: int

    @property
    def connection_kind(self) -> ConnectionKind: ...

    @property
    def is_open(self) -> bool: ...

    @property
    def buffered_amount(self) -> int: ...

    async def wait_open(self, timeout: float) -> None: ...

    def writable(self) -> bool: ...

    async def wait_writable(self, size: int) -> None: ...

    async def send(self, channel: Channel, data: bytes) -> None: ...

    async def recv(self, timeout: float | None = None) -> tuple[Channel, bytes]: ...

    def on_closed(self, callback: Callable[[P2PChatError], object]) -> None: ...

    async def drain(self, timeout: float) -> bool: ...

    async def close(self) -> None: ...


class LinkClosing:
    """The closing half both links share: the first reason wins, ``on_closed`` callbacks
    are told once, and a close we started ourselves is never reported as the peer's."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.close_reason: P2PChatError | None = None
        self._close_callbacks: list[Callable[[P2PChatError], object]] = []
        self._closing = False

    def on_closed(self, callback: Callable[[P2PChatError], object]) -> None:
        """Call ``callback(reason)`` once when the link closes (at once if it has)."""
        if self.closed.is_set():
            callback(self._closed_error())
        else:
            self._close_callbacks.append(callback)

    def _closed_error(self) -> P2PChatError:
        return self.close_reason or TransportError("The connection is closed.")

    def _mark_closed(self, reason: P2PChatError, *wake: Callable[[], object]) -> bool:
        """Record ``reason``, run ``wake`` (release waiters), tell the callbacks.

        False when the link was closed already (nothing is done then).
        """
        if self.closed.is_set():
            return False
        if self._closing:
            reason = TransportError("The connection was closed on this side.")
        self.close_reason = reason
        self.closed.set()
        for release in wake:
            release()
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                callback(reason)
            except Exception:
                logger.exception("on_closed callback failed")
        return True
