"""What the service needs of a link to the peer, whichever path it takes.

``RtcLink`` (WebRTC data channels: ``direct`` or ``relay`` through TURN) and
``TransitLink`` (frames over a magic-wormhole transit relay: ``transit``) both
satisfy ``Link``; the pump and the bind only ever use this interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal, Protocol

from p2pchat.core.errors import P2PChatError
from p2pchat.core.keys import Channel

ConnectionKind = Literal["direct", "relay", "transit", "unknown"]


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
