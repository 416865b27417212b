"""The running conversation's loops: frames out, frames in, and the heartbeat.

A ``FramePump`` sits between a verified ``core.session.Session`` and its
``RtcLink``: it writes whatever the session queued whenever it is woken (and the
channel has room), feeds every received frame to the session, and pings the
peer, declaring it lost after a silence. It turns nothing into service events
itself: the session's events go to ``dispatch``, a lost link to ``lost``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from p2pchat.core.errors import P2PChatError, PeerLost
from p2pchat.core.keys import Channel
from p2pchat.core.session import Session, SessionEvent
from p2pchat.net.link import Link
from p2pchat.service.config import MAX_WIRE_FRAME, ServiceConfig


class FramePump:
    """Moves frames between one session and its data channels until cancelled or lost."""

    def __init__(
        self,
        session: Session,
        link: Link,
        output_ready: asyncio.Event,
        config: ServiceConfig,
        dispatch: Callable[[list[SessionEvent]], None],
        lost: Callable[[P2PChatError], Awaitable[None]],
    ) -> None:
        self._session = session
        self._link = link
        # Set by whoever queued something on the session: the send loop wakes up.
        self._output_ready = output_ready
        self._config = config
        self._dispatch = dispatch
        self._lost = lost
        self._last_heard = time.monotonic()

    def receive(self, channel: Channel, data: bytes) -> None:
        """Feed one frame to the session; its errors are fatal and left to the caller."""
        self._last_heard = time.monotonic()
        self._session.receive_data(channel, data)
        self._dispatch(self._session.events())
        self._output_ready.set()  # acks and pongs the session queued

    async def send_loop(self) -> None:
        session, link = self._session, self._link
        try:
            while True:
                await self._output_ready.wait()
                self._output_ready.clear()
                while True:
                    # Room first, then choose: text queued while we waited overtakes chunks.
                    await link.wait_writable(MAX_WIRE_FRAME)
                    frame = session.next_frame()
                    if frame is None:
                        break
                    await link.send(*frame)
                    self._dispatch(session.events())
        except asyncio.CancelledError:
            raise
        except P2PChatError as error:
            await self._lost(error)

    async def receive_loop(self) -> None:
        try:
            while True:
                channel, data = await self._link.recv()
                self.receive(channel, data)
        except asyncio.CancelledError:
            raise
        except P2PChatError as error:
            await self._lost(error)

    async def heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.heartbeat_interval)
            silent_for = time.monotonic() - self._last_heard
            if silent_for > self._config.heartbeat_timeout:
                await self._lost(
                    PeerLost(f"The peer stopped answering ({silent_for:.0f} s without a sign).")
                )
                return
            with contextlib.suppress(P2PChatError):
                self._session.send_ping()
                self._output_ready.set()
