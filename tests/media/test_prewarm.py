"""A receiver starts a photo's worker while the photo travels, and never reuses it for another."""

from __future__ import annotations

import asyncio
import contextlib

from p2pchat.core.session import ImageComplete
from p2pchat.media.budget import WorkerBudget
from p2pchat.media.samples import demo_photo
from p2pchat.media.worker import ImageWorker
from p2pchat.service import ServiceConfig
from p2pchat.service import events as ev
from p2pchat.service.incoming_images import IncomingImages
from tests.media.workers import worker_children
from tests.viewonce.conftest import until


async def test_each_offered_photo_gets_its_own_worker_started_before_it_completes() -> None:
    emitted: list[ev.ServiceEvent] = []
    # Without a spare worker (tests/media/test_spare_worker.py), as a sender's service.
    config = ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1", warm_image_worker=False)
    images = IncomingImages(config, emitted.append, lambda: False)
    seen: list[set[int]] = []

    async def watch() -> None:
        while True:
            seen.append(set(worker_children()))
            await asyncio.sleep(0.01)

    watcher = asyncio.ensure_future(watch())
    try:
        pids = []
        for message_id in ("first", "second"):
            images.offered(message_id)
            # Started while the photo is still on its way (nothing has completed yet).
            await until(lambda: len(worker_children()) == 1, "a worker waits for the photo")
            pids.append(worker_children()[0])
            photo = demo_photo((64, 48))
            images.accept(ImageComplete(message_id, photo, "image/jpeg", 64, 48, False, 10.0))
            await until(lambda: len(emitted) == len(pids), "the photo was cleaned")
            received = emitted[-1]
            assert isinstance(received, ev.ImageReceived) and received.message_id == message_id
            await until(lambda: not worker_children(), "its worker is gone after one photo")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        images.wipe_all()
    assert pids[0] != pids[1]
    # No other worker ever ran: each photo was cleaned by the one started ahead for it.
    assert set().union(*seen) == set(pids)


async def test_a_warm_worker_never_takes_the_last_free_slot() -> None:
    """A photo still on its way (a hostile peer may never finish it) must not hold up others."""
    budget = WorkerBudget(max_running=2)
    busy = budget.reserve()
    assert budget.try_slot(busy, 1 << 20)
    travelling = budget.reserve()
    assert await ImageWorker.prewarm(travelling, budget) is None
    assert budget.running == 1 and not worker_children()
    # A photo that is ready takes that slot.
    ready = budget.reserve()
    await asyncio.wait_for(budget.slot(ready, 1 << 20), 5)
    assert budget.running == 2
    for place in (busy, travelling, ready):
        place.release()
    assert budget.running == 0
