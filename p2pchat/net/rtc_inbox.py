"""The RtcLink's receive queue: one queue for both channels, bounded by bytes.

aiortc acknowledges SCTP data whether or not we consume it, so a peer could make
this queue grow without end. It is bounded by bytes (``limit``, counting
``RECV_MESSAGE_OVERHEAD`` per message so that a flood of empty messages is
bounded too): a message that would pass the bound is refused, and the link
treats its peer as hostile.
"""

from __future__ import annotations

import asyncio
from typing import Final

from p2pchat.core.errors import RemoteProtocolError
from p2pchat.core.keys import Channel

#: What one queued message costs besides its payload (the tuple and bytes headers).
RECV_MESSAGE_OVERHEAD: Final = 96


class Inbox:
    """Messages from either channel in arrival order; ``None`` marks the link's end."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queued_bytes = 0
        self._queue: asyncio.Queue[tuple[Channel, bytes] | None] = asyncio.Queue()

    def take(self, channel: Channel, message: bytes | str) -> RemoteProtocolError | None:
        """Queue what a channel delivered; the error to close the link with if it is refused.

        A text frame is refused; so is a message past the limit, and then the whole
        backlog is dropped (the link closes anyway).
        """
        if not isinstance(message, bytes):
            return RemoteProtocolError("The peer sent a text frame; only binary is allowed.")
        if self.put(channel, message):
            return None
        self.drop()
        return RemoteProtocolError(
            "The peer sent data much faster than it could be processed "
            f"(over {self.limit // (1024 * 1024)} MiB waiting); "
            "the connection was closed to protect this computer's memory."
        )

    def put(self, channel: Channel, message: bytes) -> bool:
        """Queue ``message``; False (nothing queued) when it would pass the limit."""
        cost = len(message) + RECV_MESSAGE_OVERHEAD
        if self.queued_bytes + cost > self.limit:
            return False
        self.queued_bytes += cost
        self._queue.put_nowait((channel, message))
        return True

    def end(self) -> None:
        """Wake every reader once the queued messages are taken: the link is closed."""
        self._queue.put_nowait(None)

    def empty(self) -> bool:
        return self._queue.empty()

    async def get(self, timeout: float | None) -> tuple[Channel, bytes] | None:
        """The next message, or None at the end (which stays for any other reader)."""
        if timeout is None:
            item = await self._queue.get()
        else:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        if item is None:
            self._queue.put_nowait(None)
            return None
        self.queued_bytes -= len(item[1]) + RECV_MESSAGE_OVERHEAD
        return item

    def drop(self) -> None:
        """Forget everything queued (a flooding peer's backlog)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self.queued_bytes = 0
