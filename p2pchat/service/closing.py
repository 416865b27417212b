"""Closing, the last part of ChatService: delivery, bye, and shutting everything down.

``Closing`` waits until the peer confirmed what was sent (or left, or the
delivery limit passed), says bye, drains the link and shuts down once, however
many callers (the peer's goodbye, a lost link, the user) arrive at the same time.
A view-once photo never outlives the conversation: shutdown wipes the vault.
"""

from __future__ import annotations

import asyncio
import contextlib

from p2pchat.core.errors import P2PChatError, PeerLost, TransportError
from p2pchat.media.worker import killed_reaped
from p2pchat.service import events as ev
from p2pchat.service.config import CLOSE_GRACE, close_delivery_limit
from p2pchat.service.service_base import ServiceBase


class Closing(ServiceBase):
    """The closing half of ChatService."""

    async def wait_delivered(self, timeout: float | None = None) -> None:
        """Wait until the peer acknowledged every message and image sent so far."""
        waiter = asyncio.ensure_future(self._ledger.all_delivered.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            closed.cancel()
        if not self._ledger.all_delivered.is_set():
            if not done:
                raise PeerLost("The peer did not confirm delivery in time.")
            raise PeerLost("The peer left before everything was delivered.")
        if self._ledger.not_delivered:
            raise PeerLost(
                f"{len(self._ledger.not_delivered)} photo(s) did not reach the peer or were not "
                "kept there (cancelled, or the peer could not save them)."
            )

    async def _peer_left(self, reason: str) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        # Images that arrived before the bye are still being re-sanitised: deliver them.
        await self._incoming_images.wait_accepted()
        self._emit(ev.PeerLeft(reason))
        await self._shutdown()

    async def _lost(self, error: P2PChatError) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        if isinstance(error, TransportError) and self._peer_said_bye.is_set():
            return
        self.state = "failed"
        self._emit(ev.ConnectionChanged(state="lost", connection=self.connection_kind))
        self._emit(ev.failure(error))
        await self._shutdown()

    async def close(self) -> int:
        """Wait until the peer confirmed what was sent, say bye, drain, close everything.

        The wait ends when everything is delivered, when the peer is gone, or after
        ``close_delivery_limit`` (proportional to what is queued). Returns how many
        sent items the peer never confirmed (also kept in ``undelivered``).
        Idempotent and safe to call concurrently: every caller waits for the one close.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_once())
        await asyncio.shield(self._closing)
        return self.undelivered

    async def _wait_queued_delivered(self) -> None:
        session = self._session
        if session is None or self._ledger.all_delivered.is_set():
            return
        pending = len(self._ledger.pending_delivery)
        limit = close_delivery_limit(pending, session.outgoing_image_bytes)
        with contextlib.suppress(PeerLost):
            await self.wait_delivered(limit)

    async def _close_once(self) -> None:
        if self.state == "paired":
            await self._wait_queued_delivered()
        # Counted before the bye: saying it cancels the photos still queued.
        self._count_undelivered()
        if self.state == "paired" and self._session is not None and self._link is not None:
            self.state = "closing"
            with contextlib.suppress(P2PChatError):
                self._session.close()
                self._output_ready.set()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)
                await self._link.drain(CLOSE_GRACE)
        await self._shutdown()

    def _count_undelivered(self) -> None:
        # Never lowered: the bye's own cancellations clear the pending set afterwards.
        self.undelivered = max(self.undelivered, self._ledger.unconfirmed())

    async def _shutdown(self) -> None:
        if self._shutting_down is None:
            self._shutting_down = asyncio.ensure_future(self._shutdown_once())
        # Shielded: _shutdown_once cancels the service's tasks, perhaps the caller's own.
        await asyncio.shield(self._shutting_down)

    async def _shutdown_once(self) -> None:
        self._count_undelivered()
        if self.state != "failed":
            self.state = "closed"
        for task in list(self._tasks):
            task.cancel()
        for job in list(self._preparing):
            job.cancel()
        self._incoming_images.wipe_all()
        self._send_spare.close()
        if self._mailbox is not None:
            with contextlib.suppress(Exception):
                await self._mailbox.close("lonely")
            self._mailbox = None
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.close()
        self._emit(ev.ConnectionChanged(state="closed", connection=self.connection_kind))
        self._emit(ev.Closed())
        self._closed.set()
        self._paired.set()
        await self._incoming_images.spare_gone()
        await self._send_spare.gone()
        # Photos cut off halfway: their workers were killed, reaped in the background.
        await self._incoming_images.wait_accepted()
        await killed_reaped()
