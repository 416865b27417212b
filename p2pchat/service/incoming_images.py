"""The receive path for images: re-sanitise in an isolated worker, seal view-once in the vault.

Each offered photo first takes a place in the process-wide worker budget
(``media.budget``): with none left it is refused at once, before its bytes
arrive, and the transfer is cancelled so that the sender is told too. While the
photo travels, a worker is started ahead for it when a slot is free
(``ImageWorker.prewarm``); it serves that photo only. Sooner still, a *spare*
worker is started while pairing (``warm_spare``) and handed to the next photo
offered, and the one after that gets a new spare (``NEXT_SPARE_AFTER`` once a
photo is done, not during a one-shot receiver's last moments): a worker never
sees the data of two photos. A spare gives its slot up to any photo that would wait for one
(``budget.add_spare``), so it never holds anyone up.

Only the worker's output is ever shown. A view-once photo never reaches a front
end as bytes: it is sealed in the in-memory ``Vault`` (wiped when viewed, when
it waited too long unopened, or when the conversation ends) and announced by
``vault_id``. Every buffer that held received bytes is overwritten once used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

from p2pchat.core.errors import ImageRejected
from p2pchat.core.session import ImageComplete
from p2pchat.core.timeline import mark
from p2pchat.media.budget import BUDGET, BudgetFull, Place, WorkerBudget
from p2pchat.media.policy import SanitizedImage, SanitizePolicy
from p2pchat.media.vault import Vault
from p2pchat.media.worker import ImageWorker, sanitize_async
from p2pchat.media.worker_protocol import refusal
from p2pchat.service import events as ev
from p2pchat.service.config import ServiceConfig
from p2pchat.service.worker_spare import WorkerSpare

# The next spare starts this long after a photo was cleaned: `p2pchat receive` is
# usually ending then (a new interpreter would only compete with its exit), and a
# photo offered sooner gets a worker started for it as it travels (``offered``).
NEXT_SPARE_AFTER = 0.5


class IncomingImages:
    """Completed incoming images on their way to the front end, and the view-once vault."""

    def __init__(
        self,
        config: ServiceConfig,
        emit: Callable[[ev.ServiceEvent], None],
        conversation_closed: Callable[[], bool],
        budget: WorkerBudget = BUDGET,
    ) -> None:
        self._config = config
        self._emit = emit
        self._conversation_closed = conversation_closed
        # Received view-once photos: in memory only, wiped when viewed, expired or closed.
        self.vault = Vault(clock=time.monotonic)
        self._vault_timer: asyncio.TimerHandle | None = None
        self._accepting: set[asyncio.Future[None]] = set()
        self._budget = budget
        self._places: dict[str, Place] = {}
        self._warming: dict[str, asyncio.Task[ImageWorker | None]] = {}
        self._spare = WorkerSpare("receive", budget=budget)
        self._wiped = False  # the conversation is over: no new spare
        self._next_spare: asyncio.TimerHandle | None = None

    def offered(self, message_id: str) -> str | None:
        """Take a budget place for a photo on its way; the refusal to show when there is none."""
        try:
            place = self._budget.reserve()
        except BudgetFull:
            return str(refusal("receive", "busy"))
        spare = self._spare.take()
        if spare is not None:
            place.release()
            place, warming = spare
        else:
            warming = asyncio.ensure_future(ImageWorker.prewarm(place, self._budget))
        self._places[message_id] = place
        self._warming[message_id] = warming
        self.warm_spare()
        return None

    def warm_spare(self) -> None:
        """Start a worker for the next photo to be offered, if none waits and a slot is free."""
        if self._config.warm_image_worker and not self._wiped and not self._conversation_closed():
            self._spare.warm()

    def _spare_soon(self) -> None:
        if self._next_spare is None and not self._wiped:
            loop = asyncio.get_running_loop()
            self._next_spare = loop.call_later(NEXT_SPARE_AFTER, self._spare_now)

    def _spare_now(self) -> None:
        self._next_spare = None
        self.warm_spare()

    async def spare_gone(self) -> None:
        """After ``wipe_all``: wait until no dropped spare's process is left."""
        await self._spare.gone()

    def cancelled(self, message_id: str) -> None:
        """The transfer stopped before it completed: give its worker and place back."""
        warming = self._warming.pop(message_id, None)
        if warming is not None:
            warming.add_done_callback(_kill_warm_worker)
            warming.cancel()
        place = self._places.pop(message_id, None)
        if place is not None:
            place.release()

    def accept(self, event: ImageComplete) -> None:
        """Start re-sanitising a completed image; its event follows when the worker is done."""
        mark("last-byte")
        accepting = asyncio.ensure_future(self._accept_image(event))
        self._accepting.add(accepting)
        accepting.add_done_callback(self._accepting.discard)
        # Its worker's slot is free again: the next photo may get a spare soon.
        accepting.add_done_callback(lambda _: self._spare_soon())

    async def wait_accepted(self) -> None:
        """Let images that are still being re-sanitised reach the front end."""
        if self._accepting:
            await asyncio.gather(*self._accepting, return_exceptions=True)

    def wipe_all(self) -> None:
        """A view-once photo never outlives its conversation; nor does any of its workers."""
        self._wiped = True
        if self._next_spare is not None:
            self._next_spare.cancel()
            self._next_spare = None
        self._spare.close()
        for message_id in list(self._places):
            self.cancelled(message_id)
        for accepting in list(self._accepting):
            accepting.cancel()
        if self._vault_timer is not None:
            self._vault_timer.cancel()
            self._vault_timer = None
        self.vault.wipe_all()

    async def _accept_image(self, event: ImageComplete) -> None:
        """Re-sanitise what arrived in an isolated worker; only its output is ever shown."""
        data = event.data
        if event.view_once and not self._config.honours_view_once:
            # A modified peer sent view-once to a script: never deliver the bytes.
            self.cancelled(event.id)
            _wipe(data)
            self._emit(ev.ImageReceived(event.id, b"", "", 0, 0, True, event.view_seconds, ()))
            return
        if event.view_once:
            await self._accept_view_once(event)
            return
        try:
            clean = await self._sanitize(event.id, data)
        except ImageRejected as error:
            self._emit(ev.ImageRejected(event.id, str(error)))
            return
        finally:
            _wipe(data)
        mark("receiver-cleaned")
        removed = tuple(f.message for f in clean.report.findings)
        self._emit(
            ev.ImageReceived(
                event.id,
                clean.data,
                clean.mime,
                clean.width,
                clean.height,
                event.view_once,
                event.view_seconds,
                removed,
                findings=tuple(clean.report.findings),
            )
        )

    async def _accept_view_once(self, event: ImageComplete) -> None:
        """Re-sanitise a view-once photo over pipes and seal the result in the vault.

        The session handed over its own bytearray; it is overwritten as soon as the
        worker answered. No bytes leave in the event: front ends get a ``vault_id``.
        """
        data = event.data
        try:
            clean = await self._sanitize(event.id, data)
        except ImageRejected as error:
            self._emit(ev.ImageRejected(event.id, str(error)))
            return
        finally:
            _wipe(data)
        sealed = bytearray(clean.data)
        clean.data = b""
        vault_id = self.vault.put(
            event.id,
            sealed,
            clean.mime,
            clean.width,
            clean.height,
            view_seconds=event.view_seconds,
            expires_at=time.monotonic() + self._config.view_once_timeout,
        )
        del sealed
        self._schedule_vault_expiry()
        self._emit(
            ev.ImageReceived(
                event.id,
                b"",
                clean.mime,
                clean.width,
                clean.height,
                True,
                event.view_seconds,
                tuple(f.message for f in clean.report.findings),
                vault_id=vault_id,
                findings=tuple(clean.report.findings),
            )
        )

    async def _sanitize(self, message_id: str, data: bytes | bytearray) -> SanitizedImage:
        """The photo's own worker (prewarmed, or started when its turn in the budget comes)."""
        place = self._places.pop(message_id, None)
        warming = self._warming.pop(message_id, None)
        worker = None
        if warming is not None:
            try:
                worker = await warming
            except asyncio.CancelledError:
                if place is not None:
                    place.release()
                raise
        policy = SanitizePolicy(max_long_edge=None, side="receive")
        # The worker copies it into its request anyway (it only needs len() and bytes()):
        # no extra immutable copy here.
        return await sanitize_async(cast(bytes, data), policy, worker=worker, place=place)

    def _schedule_vault_expiry(self) -> None:
        if self._vault_timer is not None:
            self._vault_timer.cancel()
            self._vault_timer = None
        deadline = self.vault.next_deadline()
        if deadline is None or self._conversation_closed():
            return
        delay = max(0.0, deadline - time.monotonic())
        self._vault_timer = asyncio.get_running_loop().call_later(delay, self._expire_vault)

    def _expire_vault(self) -> None:
        self._vault_timer = None
        self.vault.expire(time.monotonic())
        self._schedule_vault_expiry()


def _kill_warm_worker(warming: asyncio.Task[ImageWorker | None]) -> None:
    if not warming.cancelled() and warming.exception() is None:
        worker = warming.result()
        if worker is not None:
            worker.kill()


def _wipe(buffer: bytes | bytearray | memoryview) -> None:
    """Overwrite a mutable buffer in place (bytes are immutable: nothing to do)."""
    if isinstance(buffer, bytearray):
        buffer[:] = bytes(len(buffer))
