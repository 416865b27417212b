"""One process-wide budget for every image worker, incoming and outgoing.

A photo needs a *place* (running or queued) before it may wait for a *slot*
(a running worker with its memory limit). Places are bounded, so a flood of
photos is refused early instead of piling up bytes and processes; slots are
bounded in number and in summed memory, so the workers of every conversation
together cost at most ``MAX_WORKER_MEMORY`` whatever the number of cores.
Waiting is first come, first served. Thread-safe: the event loop and the CLI's
threads share one budget; async waiters are woken on their own loop.

A *spare* is a warm worker started ahead for a photo that has not been offered
yet (``add_spare``): its place does not count against the places until a photo
claims it (``claim_spare``), and it gives its slot up to anyone who would
otherwise have to wait for one.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from p2pchat.core.errors import ImageRejected

# Two decoders at once keep a two-core laptop responsive and let one photo overtake a slow one.
MAX_RUNNING_WORKERS = 2
# The sum of the running workers' address-space limits: what a flood costs at most.
MAX_WORKER_MEMORY = 2 * 1024 * 1024 * 1024
# Photos waiting for a worker hold their bytes in memory: a few, then refuse.
MAX_QUEUED_PHOTOS = 4


class BudgetFull(ImageRejected):
    """No place left: too many photos are running or waiting."""

    reason = "budget_full"


@dataclass(eq=False)
class _Waiter:
    memory: int
    wake: Callable[[], bool]
    granted: bool = False


@dataclass(eq=False)
class Place:
    """A photo's claim on the budget: returned exactly once, by ``release``."""

    budget: WorkerBudget
    memory: int = 0  # the memory of the slot it holds, 0 while it holds none
    released: bool = field(default=False)

    def release(self) -> None:
        self.budget._release(self)


class WorkerBudget:
    """Bounded places, and slots bounded in number and summed memory."""

    def __init__(
        self,
        max_running: int = MAX_RUNNING_WORKERS,
        max_memory: int = MAX_WORKER_MEMORY,
        max_queued: int = MAX_QUEUED_PHOTOS,
    ) -> None:
        self.max_running = max_running
        self.max_memory = max_memory
        self.max_places = max_running + max_queued
        self._lock = threading.Lock()
        self._places = 0
        self._running = 0
        self._memory = 0
        self._waiting: deque[_Waiter] = deque()
        self._spares: dict[Place, Callable[[], None]] = {}
        self.peak_running = 0

    @property
    def running(self) -> int:
        return self._running

    def reserve(self) -> Place:
        """A place for one photo, or ``BudgetFull`` at once when every place is taken."""
        with self._lock:
            if self._places >= self.max_places:
                raise BudgetFull("too many photos are waiting to be checked")
            self._places += 1
        return Place(self)

    def add_spare(self, place: Place, give_up: Callable[[], None]) -> None:
        """``place`` is a spare's: not counted until claimed; ``give_up`` (callable from
        any thread, idempotent) ends the spare when someone needs its slot."""
        with self._lock:
            if not place.released and place not in self._spares:
                self._places -= 1
                self._spares[place] = give_up

    def claim_spare(self, place: Place) -> bool:
        """A photo takes the spare ``place`` over (it counts again); False if it is gone."""
        with self._lock:
            if self._spares.pop(place, None) is None:
                return False
            self._places += 1
            return True

    def _spare_to_evict(self) -> Callable[[], None] | None:
        """Under the lock: take one spare out (its place counts again until released)."""
        if not self._spares:
            return None
        place = next(iter(self._spares))
        self._places += 1
        return self._spares.pop(place)

    def try_slot(self, place: Place, memory: int, *, keep_free: int = 0) -> bool:
        """Take a slot now if one is free, nobody waits and ``keep_free`` slots stay free."""
        with self._lock:
            if place.memory:
                return True
            if self._waiting or self._running + keep_free >= self.max_running:
                return False
            if not self._fits(memory):
                return False
            self._take(place, memory)
            return True

    def _taken_at_once(self, place: Place, memory: int) -> bool:
        """Under the lock: ``place`` holds a slot already, or takes a free one with no queue."""
        if place.memory:
            return True
        if not self._waiting and self._fits(memory):
            self._take(place, memory)
            return True
        return False

    async def slot(self, place: Place, memory: int) -> None:
        """Wait (first come, first served) until ``place`` holds a slot of ``memory`` bytes."""
        with self._lock:
            if self._taken_at_once(place, memory):
                return
            loop = asyncio.get_running_loop()
            woken: asyncio.Future[None] = loop.create_future()

            def wake() -> bool:
                try:
                    loop.call_soon_threadsafe(_resolve, woken)
                except RuntimeError:  # its loop is closed: nobody will use the slot
                    return False
                return True

            waiter = _Waiter(min(memory, self.max_memory), wake)
            self._waiting.append(waiter)
            evict = self._spare_to_evict()
        if evict is not None:
            evict()
        try:
            await woken
        except BaseException:
            with self._lock:
                if not waiter.granted:
                    self._waiting.remove(waiter)
            if waiter.granted:
                self._give_back(waiter.memory)
            raise
        place.memory = waiter.memory

    def slot_blocking(self, place: Place, memory: int) -> None:
        """``slot`` for threads without an event loop (the CLI)."""
        with self._lock:
            if self._taken_at_once(place, memory):
                return
            event = threading.Event()

            def wake() -> bool:
                event.set()
                return True

            waiter = _Waiter(min(memory, self.max_memory), wake)
            self._waiting.append(waiter)
            evict = self._spare_to_evict()
        if evict is not None:
            evict()
        event.wait()
        place.memory = waiter.memory

    def release_slot(self, place: Place) -> None:
        """Give back the slot of ``place`` but keep the place (a warm worker that failed)."""
        if place.memory:
            memory, place.memory = place.memory, 0
            self._give_back(memory)

    def _fits(self, memory: int) -> bool:
        if self._running >= self.max_running:
            return False
        # A single worker larger than the whole budget still runs, alone.
        return self._running == 0 or self._memory + memory <= self.max_memory

    def _take(self, place: Place, memory: int) -> None:
        memory = min(memory, self.max_memory)
        self._running += 1
        self._memory += memory
        self.peak_running = max(self.peak_running, self._running)
        place.memory = memory

    def _release(self, place: Place) -> None:
        with self._lock:
            if place.released:
                return
            place.released = True
            if self._spares.pop(place, None) is None:
                self._places -= 1
        if place.memory:
            self._give_back(place.memory)
            place.memory = 0

    def _give_back(self, memory: int) -> None:
        with self._lock:
            self._running -= 1
            self._memory -= memory
            while self._waiting and self._fits(self._waiting[0].memory):
                waiter = self._waiting.popleft()
                if not waiter.wake():
                    continue
                waiter.granted = True
                self._running += 1
                self._memory += waiter.memory
                self.peak_running = max(self.peak_running, self._running)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# The one budget of this process.
BUDGET = WorkerBudget()
