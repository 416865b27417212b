"""Run the sanitiser in a throw-away child process with memory and CPU limits.

Every photo, the user's own before it is sent and every received one, is cleaned
here. A hostile image that crashes a decoder, eats memory or spins the CPU takes
down only the child; the caller gets an ``ImageRejected`` in its own words (a
sender's or a receiver's) and carries on. Image bytes go over pipes only, never
through a file: view-once photos pass through here.

The child is a fresh ``python -I`` (not a fork of a process holding keys, and not
a multiprocessing child that re-imports the caller's main script) that imports
the same p2pchat as its parent. It gets no inherited environment, confines itself
(``sandbox.confine``), then reads one length-prefixed request on stdin and writes
one length-prefixed answer on stdout: a JSON header plus the image bytes, never a
pickle, so even a compromised child cannot make the parent run code.

A worker serves exactly one photo. ``ImageWorker.start`` and ``run`` are separate
so that a worker can be started ahead of time (``prewarm``): the child then
imports Pillow while the photo is still on its way, and still never sees the data
of a second photo. Every worker holds a place and a slot of the process-wide
``budget.BUDGET``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from p2pchat.core.errors import ImageRejected
from p2pchat.media.budget import BUDGET, BudgetFull, Place, WorkerBudget
from p2pchat.media.policy import SanitizedImage, SanitizePolicy
from p2pchat.media.report import PrivacyReport
from p2pchat.media.sandbox import child_environment
from p2pchat.media.worker_pipes import exchange, read_frame, read_ready
from p2pchat.media.worker_protocol import (
    LENGTH,
    decode_answer,
    decode_check,
    refusal,
    request_frame,
)

# Honest photos take a few seconds at most; a hostile one is abandoned well before minutes.
DEFAULT_TIMEOUT = 20.0
# Decodes and re-encodes an 8-bit photo at the pixel cap (81 MP passes), not a 16-bit one.
DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024
# The child imports the p2pchat its parent runs, whatever is installed elsewhere.
_ROOT = str(Path(__file__).resolve().parents[2])
# The child ends with os._exit once its answer is flushed: tearing an interpreter down
# (every module of Pillow freed one by one) took 20 ms that the parent used to wait for.
_BOOTSTRAP = (
    "import os, sys; sys.path.insert(0, sys.argv[1]); "
    "from p2pchat.media.worker_child import main; os._exit(main())"
)
WORKER_ARGV = [sys.executable, "-I", "-c", _BOOTSTRAP, _ROOT]
_REAPING: set[asyncio.Future[int]] = set()


def worker_argv(side: str, *, check: bool = False) -> list[str]:
    """A child's command line: ``WORKER_ARGV``, then the side it prepares its decoders for;
    ``check``: a sending spare that also loads the picture check before its photo."""
    argv = [*WORKER_ARGV, "receive" if side == "receive" else "send"]
    return [*argv, "check"] if check and side != "receive" else argv


def sanitize_isolated(
    data: bytes,
    policy: SanitizePolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    cpu_seconds: int | None = None,
    budget: WorkerBudget = BUDGET,
    wording: str | None = None,
) -> SanitizedImage:
    """``sanitize_image`` in a worker, blocking; any crash, kill or timeout -> ImageRejected.

    The child gets ``memory_limit`` bytes of address space and ``cpu_seconds`` of CPU
    (default: the timeout plus one second). Refusals are worded for ``wording``
    ("send", "receive" or "clean"; default: the policy's side).
    """
    policy = policy or SanitizePolicy()
    side = wording or policy.side
    cpu = cpu_seconds or max(1, int(timeout) + 1)
    request = request_frame(data, policy, memory_limit, cpu, side)
    place = _reserve(budget, side)
    try:
        budget.slot_blocking(place, memory_limit)
        try:
            child = subprocess.Popen(
                worker_argv(policy.side),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=child_environment(),
                close_fds=True,
            )  # fmt: skip
        except OSError as error:
            raise refusal(side, "start", detail=error.strerror or "") from None
        try:
            answer, _ = child.communicate(LENGTH.pack(len(request)) + request, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise refusal(side, "time", seconds=f"{timeout:g}") from None
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        return decode_answer(answer, child.returncode, side)
    finally:
        place.release()


async def killed_reaped() -> None:
    """Wait until every worker ``kill``ed on this event loop has been reaped.

    A conversation that ends with a photo half-cleaned kills its worker in the
    background; its owner awaits this before its loop may close, so no reaping task
    is left pending (and no zombie outlives the loop).
    """
    loop = asyncio.get_running_loop()
    while mine := [task for task in _REAPING if task.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)


class ImageWorker:
    """One child process for exactly one photo; killed when done, cancelled or abandoned."""

    def __init__(self, place: Place, budget: WorkerBudget = BUDGET) -> None:
        self._place = place
        self._budget = budget
        self._child: asyncio.subprocess.Process | None = None
        self._used = False
        self._side = "receive"
        # A warm sending spare announces itself once loaded: its status, once read.
        self._check = False
        self._status: dict[str, Any] | None = None
        self._reading: asyncio.Future[dict[str, Any]] | None = None

    @classmethod
    async def start(
        cls,
        side: str = "receive",
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        place: Place | None = None,
        budget: WorkerBudget = BUDGET,
    ) -> ImageWorker:
        """Wait for a place and a slot of the budget, then start the child (it waits for data)."""
        place = place or _reserve(budget, side)
        worker = cls(place, budget)
        try:
            await budget.slot(place, memory_limit)
            await worker._spawn(side)
        except BaseException:
            worker.kill()
            raise
        return worker

    @classmethod
    async def prewarm(
        cls,
        place: Place,
        budget: WorkerBudget = BUDGET,
        *,
        side: str = "receive",
        check: bool = False,
        keep_free: int = 1,
    ) -> ImageWorker | None:
        """A started worker owning ``place`` if a slot is free right now, else None.

        With None the caller keeps ``place`` and its photo waits for a slot later. A warm
        worker for a photo on its way never takes the last free slot (``keep_free``): a
        hostile peer may never finish it, and it must not hold up one that is ready. A
        spare (``budget.add_spare``) may: it gives its slot up to anyone who would wait.
        ``check`` (sending): the child loads the picture check too, then says ``ready``.
        """
        if not budget.try_slot(place, DEFAULT_MEMORY_LIMIT, keep_free=keep_free):
            return None
        worker = cls(place, budget)
        worker._check = check and side != "receive"
        try:
            await worker._spawn(side)
        except BaseException as error:
            budget.release_slot(place)
            if isinstance(error, ImageRejected):
                return None
            raise
        return worker

    async def _spawn(self, side: str) -> None:
        self._side = side
        try:
            self._child = await asyncio.create_subprocess_exec(
                *worker_argv(side, check=self._check),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=child_environment(),
                close_fds=True,
            )  # fmt: skip
        except OSError as error:
            raise refusal(side, "start", detail=error.strerror or "") from None

    async def run(
        self,
        data: bytes,
        policy: SanitizePolicy,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        cpu_seconds: int | None = None,
    ) -> SanitizedImage:
        """Clean one photo; the worker is gone afterwards, whatever happened."""
        child = self._take()
        cpu = cpu_seconds or max(1, int(timeout) + 1)
        try:
            request = request_frame(data, policy, memory_limit, cpu)
            answer = await self._ask(request, memory_limit, timeout)
            del request  # the photo's copy, not kept while the answer is read
            exitcode = child.returncode  # None while it runs: our kill below is not its death
        except TimeoutError:
            raise refusal(policy.side, "time", seconds=f"{timeout:g}") from None
        finally:
            self.kill()
            # Reap it, even when our caller was cancelled: no zombie, no open pipe. Once
            # it answered, the child is already on its way out (os._exit).
            await asyncio.shield(child.wait())
        return decode_answer(answer, exitcode, policy.side)

    async def run_then_check(
        self,
        data: bytes,
        policy: SanitizePolicy,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
    ) -> tuple[SanitizedImage, asyncio.Task[PrivacyReport]]:
        """Clean one photo and hand it back at once; its picture check follows.

        For a policy whose picture check only warns (``scan_content``, nothing to blur):
        the same worker checks the pixels it has just encoded, at a lower priority,
        after its clean copy has been answered. The task gives that check's report
        (content findings and notes; ``ImageRejected`` if the check failed, which never
        makes the photo itself wrong); cancelling it kills the worker. The worker, its
        place and its slot are held until the check is done.
        """
        child = self._take()
        cpu = max(1, int(2 * timeout) + 1)  # the clean copy's time, then the check's
        request = request_frame(data, policy, memory_limit, cpu, check_after=True)
        try:
            answer = await self._ask(request, memory_limit, timeout)
            image = decode_answer(answer, child.returncode, policy.side)
        except BaseException as error:
            self.kill()
            await asyncio.shield(child.wait())
            if isinstance(error, TimeoutError):
                raise refusal(policy.side, "time", seconds=f"{timeout:g}") from None
            raise
        return image, asyncio.ensure_future(self._checked(child, timeout))

    def _take(self) -> asyncio.subprocess.Process:
        """The child, for its one photo."""
        if self._used or self._child is None:
            raise RuntimeError("an image worker serves exactly one photo")
        self._used = True
        return self._child

    async def _ask(self, request: bytes, memory_limit: int, timeout: float) -> bytes:
        """Send the request, read the (first) answer; ``TimeoutError`` past ``timeout``."""
        assert self._child is not None
        if self._check and self._status is None:  # still loading: part of the wait
            await asyncio.wait_for(self.ready(), timeout)
        return await asyncio.wait_for(exchange(self._child, request, memory_limit), timeout)

    async def _checked(self, child: asyncio.subprocess.Process, timeout: float) -> PrivacyReport:
        """The second answer of ``run_then_check``; the worker is gone afterwards. A
        failure is worded as the check's ("check"), never as the photo's refusal."""
        side = "check"
        try:
            payload = await asyncio.wait_for(read_frame(child, side), timeout)
            return decode_check(payload, side)
        except TimeoutError:
            raise refusal(side, "time", seconds=f"{timeout:g}") from None
        finally:
            self.kill()
            await asyncio.shield(child.wait())

    async def ready(self) -> dict[str, Any]:
        """A ``check`` spare's status once it has loaded the picture check: the modules it
        holds (``content_preload.STACK``), "faces" and "ocr" (the models built). Waits for
        it; ``ImageRejected`` when the child failed instead. Empty for any other worker."""
        if not self._check or self._child is None:
            return {}
        if self._status is None:
            # One read of the frame, whoever waits for it and whoever gives up waiting.
            if self._reading is None:
                self._reading = asyncio.ensure_future(read_ready(self._child, self._side))
            self._status = await asyncio.shield(self._reading)
        return self._status

    def kill(self) -> None:
        """Stop the child now (idempotent) and give its place and slot back to the budget."""
        child = self._child
        if self._signal() and child is not None:
            # Reaped in the background: no zombie, and the transport closes on its loop.
            reaping = asyncio.ensure_future(child.wait())
            _REAPING.add(reaping)
            reaping.add_done_callback(_REAPING.discard)
        self._place.release()

    async def close(self) -> None:
        """``kill``, but reaped here: returns once the child is gone."""
        self._signal()
        self._place.release()
        if self._child is not None:
            await self._child.wait()

    def _signal(self) -> bool:
        """SIGKILL the child if it still runs; whether it did."""
        child = self._child
        if child is None or child.returncode is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        return True

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid


async def sanitize_async(
    data: bytes,
    policy: SanitizePolicy,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    worker: ImageWorker | None = None,
    place: Place | None = None,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    budget: WorkerBudget = BUDGET,
) -> SanitizedImage:
    """Clean ``data`` in a worker of the budget (``worker`` if one was prewarmed).

    Waits in the budget's queue; ``BudgetFull`` when even the queue is full.
    Cancelling the caller kills the worker.
    """
    if worker is None:
        worker = await ImageWorker.start(
            policy.side, memory_limit=memory_limit, place=place, budget=budget
        )
    try:
        return await worker.run(data, policy, timeout, memory_limit=memory_limit)
    finally:
        worker.kill()


async def clean_then_check(
    data: bytes,
    policy: SanitizePolicy,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    budget: WorkerBudget = BUDGET,
) -> tuple[SanitizedImage, asyncio.Task[PrivacyReport]]:
    """``ImageWorker.run_then_check`` in a new worker of the budget; cancelling kills it."""
    worker = await ImageWorker.start(policy.side, budget=budget)
    try:
        return await worker.run_then_check(data, policy, timeout)
    except BaseException:
        worker.kill()
        raise


def _reserve(budget: WorkerBudget, side: str) -> Place:
    try:
        return budget.reserve()
    except BudgetFull:
        raise refusal(side, "busy") from None
