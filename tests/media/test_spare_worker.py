"""A spare image worker started while pairing: it cleans exactly one photo, and never holds
anyone up (its slot goes to whoever would wait, its place does not count)."""

from __future__ import annotations

import asyncio

from p2pchat.core.session import ImageComplete
from p2pchat.media.budget import BUDGET, WorkerBudget
from p2pchat.media.samples import demo_photo
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from p2pchat.service.incoming_images import IncomingImages
from tests.media.workers import worker_children
from tests.viewonce.conftest import BOB_KEY, loopback_config, until


def _photo(message_id: str) -> ImageComplete:
    return ImageComplete(message_id, demo_photo((64, 48)), "image/jpeg", 64, 48, False, 10.0)


async def test_the_spare_started_while_pairing_cleans_the_first_photo_and_only_it() -> None:
    emitted: list[ev.ServiceEvent] = []
    budget = WorkerBudget(max_running=2)
    images = IncomingImages(
        ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"), emitted.append, lambda: False, budget
    )
    try:
        images.warm_spare()  # what ChatService does as it connects to the mailbox
        await until(lambda: len(worker_children()) == 1, "a spare waits before any offer")
        (spare,) = worker_children()
        images.offered("first")
        worker = await images._warming["first"]
        assert worker is not None and worker.pid == spare  # the photo took the spare over
        images.accept(_photo("first"))
        await until(lambda: len(emitted) == 1, "the first photo was cleaned")
        assert isinstance(emitted[0], ev.ImageReceived) and emitted[0].message_id == "first"
        # Its worker is gone; a new spare (another process) waits for the next photo.
        await until(lambda: spare not in worker_children(), "one photo per worker")
        await until(lambda: len(worker_children()) == 1, "the next photo's spare")
        (second_spare,) = worker_children()
        assert second_spare != spare
        images.offered("second")
        worker = await images._warming["second"]
        assert worker is not None and worker.pid == second_spare
        images.accept(_photo("second"))
        await until(lambda: len(emitted) == 2, "the second photo was cleaned")
        await until(lambda: second_spare not in worker_children(), "one photo per worker")
    finally:
        images.wipe_all()
    await until(lambda: not worker_children(), "no spare outlives the conversation")
    assert budget.running == 0
    images.warm_spare()  # e.g. a photo's task ending after the conversation did
    assert not images._spare.waiting and not worker_children()


async def test_a_service_starts_its_spare_while_pairing_and_leaves_none_when_closed(
    embedded_mailbox,
):
    budget_before = BUDGET.running
    bob = ChatService(loopback_config(embedded_mailbox, BOB_KEY, "bob"))
    try:
        await bob.invite()  # nobody joins: the spare is there before any peer
        await until(lambda: len(worker_children()) == 1, "a spare while pairing")
    finally:
        await bob.close()
    assert not worker_children()  # close() waited for it: nothing left behind
    assert BUDGET.running == budget_before


async def test_a_spare_gives_its_slot_to_a_photo_that_would_wait() -> None:
    budget = WorkerBudget(max_running=2)
    spare = budget.reserve()
    given_up: list[bool] = []

    def give_up() -> None:
        given_up.append(True)
        spare.release()

    budget.add_spare(spare, give_up)
    assert budget.try_slot(spare, 1 << 20, keep_free=1)
    first, second = budget.reserve(), budget.reserve()
    await asyncio.wait_for(budget.slot(first, 1 << 20), 5)  # the free slot
    assert not given_up
    await asyncio.wait_for(budget.slot(second, 1 << 20), 5)  # only free once the spare left
    assert given_up == [True] and budget.running == 2
    assert not budget.claim_spare(spare)  # gone: no photo can take it over any more
    for place in (first, second):
        place.release()
    assert budget.running == 0


def test_a_spare_does_not_count_against_the_places_until_a_photo_claims_it() -> None:
    budget = WorkerBudget(max_running=2, max_queued=1)
    spare = budget.reserve()
    budget.add_spare(spare, lambda: None)
    places = [budget.reserve() for _ in range(budget.max_places)]  # no BudgetFull
    places.pop().release()
    assert budget.claim_spare(spare)  # now it is a photo's place like the others
    for place in [*places, spare]:
        place.release()
    budget.reserve().release()


async def test_the_next_spare_waits_a_moment_and_never_outlives_the_conversation(
    monkeypatch,
) -> None:
    """A one-shot receiver ends right after its photo: a new interpreter started then
    only competed with its exit. The next spare comes later, or not at all once closed."""
    import p2pchat.service.incoming_images as incoming

    monkeypatch.setattr(incoming, "NEXT_SPARE_AFTER", 600.0)
    emitted: list[ev.ServiceEvent] = []
    budget = WorkerBudget(max_running=2)
    images = IncomingImages(
        ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"), emitted.append, lambda: False, budget
    )
    try:
        images.warm_spare()
        images.offered("first")
        images.accept(_photo("first"))
        await until(lambda: len(emitted) == 1, "the photo was cleaned")
        await images.wait_accepted()
        await asyncio.sleep(0)  # the accepting task's callbacks
        assert not images._spare.waiting  # no process started as the photo was done
        await until(lambda: not worker_children(), "the photo's worker is gone")
    finally:
        images.wipe_all()
    await asyncio.sleep(0)
    assert not images._spare.waiting and not worker_children() and budget.running == 0
