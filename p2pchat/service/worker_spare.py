"""A spare image worker: started ahead of a photo, handed to one photo, then replaced.

A fresh worker spends time starting an interpreter and loading its libraries (for a
sending worker with the picture check, about 250 ms of CPU importing NumPy, OpenCV and
onnxruntime and loading the face and digit models). Where a photo may come, one
*spare* is started ahead (``ImageWorker.prewarm``) and the next photo takes it over
(``take``); a new spare is started once that photo is done. A worker never sees the
data of two photos. Two of them exist per conversation: the receiver's
(``incoming_images``, started while pairing) and the sender's (``ServiceConfig.
warm_send_worker`` once paired, or the TUI's file picker or send dialog opening:
``ChatService.expect_photo``), the latter with the picture check loaded (``check``).

A spare is a worker of the budget like any other (a place, a slot, its memory limit),
but it gives its slot up to any photo that would wait for one (``budget.add_spare``);
a spare that is never used is stopped with the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from p2pchat.media.budget import BUDGET, BudgetFull, Place, WorkerBudget
from p2pchat.media.worker import ImageWorker

Spare = tuple[Place, "asyncio.Task[ImageWorker | None]"]


class WorkerSpare:
    """At most one warm worker for ``side``, handed to one photo, replaced, stopped at the end.

    ``check``: the worker loads the picture check before its photo; ``keep_free``: the
    slots it leaves free when it starts (the sender's may take the last one, since a
    photo that would wait takes it back).
    """

    def __init__(
        self,
        side: str,
        *,
        check: bool = False,
        keep_free: int = 1,
        budget: WorkerBudget = BUDGET,
    ) -> None:
        self._side = side
        self._check = check
        self._keep_free = keep_free
        self._budget = budget
        self._spare: Spare | None = None
        # Dropped spares still starting, and their processes being stopped.
        self._stopping: set[asyncio.Future[Any]] = set()
        self._closed = False

    def warm(self) -> None:
        """Start a spare now, unless one waits already, the budget is full or it is closed."""
        if self._closed or self._spare is not None:
            return
        try:
            place = self._budget.reserve()
        except BudgetFull:
            return
        loop = asyncio.get_running_loop()

        def give_up() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: so is the spare
                loop.call_soon_threadsafe(self._give_up, place)

        self._budget.add_spare(place, give_up)
        warming = asyncio.ensure_future(
            ImageWorker.prewarm(
                place,
                self._budget,
                side=self._side,
                check=self._check,
                keep_free=self._keep_free,
            )
        )
        warming.add_done_callback(lambda _: self._started(place, warming))
        self._spare = (place, warming)

    def take(self) -> Spare | None:
        """The spare for a photo being prepared now (its place is the photo's), or None."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        if self._budget.claim_spare(spare[0]):
            return spare
        self._spare = spare  # given up meanwhile: stop it
        self._drop()
        return None

    @property
    def waiting(self) -> bool:
        """Whether a spare is started or starting, not yet taken."""
        return self._spare is not None

    @property
    def pid(self) -> int | None:
        """The spare's process once it has started (tests and the bench)."""
        if self._spare is None or not self._spare[1].done() or self._spare[1].cancelled():
            return None
        if self._spare[1].exception() is not None:
            return None
        worker = self._spare[1].result()
        return None if worker is None else worker.pid

    async def ready(self) -> dict[str, Any]:
        """The spare's status once it has loaded the check (empty when there is none)."""
        if self._spare is None:
            return {}
        worker = await asyncio.shield(self._spare[1])
        return {} if worker is None else await worker.ready()

    def close(self) -> None:
        """No spare any more, and none later: the conversation is over."""
        self._closed = True
        if self._spare is not None:
            self._drop()

    async def gone(self) -> None:
        """After ``close``: wait until no dropped spare's process is left."""
        while self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _started(self, place: Place, warming: asyncio.Task[ImageWorker | None]) -> None:
        # No free slot (or no process): no spare; a later photo or dialog may start one.
        if warming.cancelled() or warming.exception() is not None or warming.result() is None:
            self._give_up(place)

    def _give_up(self, place: Place) -> None:
        if self._spare is not None and self._spare[0] is place:
            self._drop()

    def _drop(self) -> None:
        """End the spare: its place and slot now, its process once it has started."""
        assert self._spare is not None
        place, warming = self._spare
        self._spare = None
        # Not cancelled: a process cancelled halfway through its start would be left
        # to the garbage collector. Stopped and reaped once started (see gone).
        self._stopping.add(warming)
        warming.add_done_callback(self._stop)
        place.release()

    def _stop(self, warming: asyncio.Future[Any]) -> None:
        self._stopping.discard(warming)
        if warming.cancelled() or warming.exception() is not None:
            return
        worker = warming.result()
        if isinstance(worker, ImageWorker):
            closing: asyncio.Future[Any] = asyncio.ensure_future(worker.close())
            self._stopping.add(closing)
            closing.add_done_callback(self._stopping.discard)


async def worker_of(spare: Spare | None) -> tuple[ImageWorker | None, Place | None]:
    """The started worker of a taken spare (None when it could not start) and its place."""
    if spare is None:
        return None, None
    place, warming = spare
    try:
        # Shielded: a spare cancelled halfway through its start would leave its process.
        worker = await asyncio.shield(warming)
    except BaseException:
        warming.add_done_callback(_kill)
        place.release()
        raise
    if worker is None:  # its place stays the photo's: a worker is started for it
        return None, place
    return worker, place


def _kill(warming: asyncio.Future[ImageWorker | None]) -> None:
    if not warming.cancelled() and warming.exception() is None:
        worker = warming.result()
        if worker is not None:
            worker.kill()
