"""The sender's warm spare: a worker with the picture check loaded before any photo, used
for one photo only and then replaced, stopped with the conversation (real processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from p2pchat.media import content_ocr
from p2pchat.media.budget import BUDGET, WorkerBudget
from p2pchat.media.samples import demo_photo
from p2pchat.media.worker import ImageWorker
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from tests.media.workers import worker_children
from tests.viewonce.conftest import until


def _service(*, warm: bool = True) -> ChatService:
    # Never paired: preparing a photo needs no peer, and nothing reaches this mailbox.
    return ChatService(ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1", warm_send_worker=warm))


def _mapped(pid: int) -> str:
    """The shared libraries the child has loaded, as the kernel lists them."""
    return Path(f"/proc/{pid}/maps").read_text()


async def test_a_sending_spare_has_the_picture_check_loaded_before_any_photo() -> None:
    budget = WorkerBudget(max_running=2)
    worker = await ImageWorker.prewarm(budget.reserve(), budget, side="send", check=True)
    assert worker is not None and worker.pid is not None
    try:
        status = await worker.ready()  # the child's own word, before any request
        assert {"numpy", "cv2"} <= set(status["modules"])
        assert status["faces"] is True
        installed = content_ocr.model_path() is not None
        assert status["ocr"] is installed
        assert ("onnxruntime" in status["modules"]) is installed
        # And as the kernel sees the child: OpenCV's library is mapped before any photo.
        assert "cv2" in _mapped(worker.pid)
        clean = await worker.run(demo_photo((320, 240)), _send_policy())
        assert clean.width == 320
    finally:
        worker.kill()
    assert budget.running == 0


async def test_a_receiving_or_plain_worker_loads_no_picture_check() -> None:
    budget = WorkerBudget(max_running=2)
    worker = await ImageWorker.prewarm(budget.reserve(), budget, check=True)  # receive side
    assert worker is not None and worker.pid is not None
    try:
        assert await worker.ready() == {}
        clean = await worker.run(demo_photo((64, 48)), _receive_policy())
        assert clean.width == 64
    finally:
        worker.kill()


async def test_the_spare_cleans_one_photo_only_and_a_new_one_waits_for_the_next() -> None:
    service = _service()
    try:
        service.expect_photo()
        status = await service._send_spare.ready()
        assert "cv2" in status["modules"]
        (spare,) = worker_children()
        prepared = await service.prepare_image(demo_photo((640, 480)))
        assert prepared.width == 640
        assert spare not in worker_children()  # the spare cleaned it, and is gone
        await until(lambda: len(worker_children()) == 1, "the next photo's spare")
        (second,) = worker_children()
        assert second != spare
        assert "cv2" in (await service._send_spare.ready())["modules"]
        await service.prepare_image(demo_photo((320, 240)))
        assert second not in worker_children()
        await until(lambda: len(worker_children()) == 1, "a third spare")
        assert worker_children() != [second]
    finally:
        await service.close()
    assert not worker_children()


async def test_closing_the_conversation_stops_an_unused_spare() -> None:
    running_before = BUDGET.running
    service = _service()
    service.expect_photo()
    await service._send_spare.ready()
    assert len(worker_children()) == 1
    await service.close()
    assert not worker_children()  # close() waited for it: nothing left behind
    assert BUDGET.running == running_before
    service.expect_photo()  # a dialog opening after the end starts nothing
    assert not worker_children()


async def test_a_photo_sent_while_no_spare_is_ready_is_still_cleaned() -> None:
    service = _service()
    try:
        assert not worker_children()  # never paired, never asked: no spare yet
        prepared = await service.prepare_image(demo_photo((320, 240)))
        assert prepared.width == 320
        await until(lambda: len(worker_children()) == 1, "a spare for the next photo")
    finally:
        await service.close()
    assert not worker_children()


async def test_a_spare_still_starting_is_taken_over_by_the_photo() -> None:
    service = _service()
    try:
        service.expect_photo()
        prepared = await service.prepare_image(demo_photo((320, 240)))  # at once
        assert prepared.width == 320
    finally:
        await service.close()
    assert not worker_children()


async def test_without_the_setting_no_spare_is_started_unless_asked() -> None:
    service = _service(warm=False)
    try:
        await service.prepare_image(demo_photo((320, 240)))
        assert not worker_children()
        service.expect_photo()  # a front end knows a photo may come
        await until(lambda: len(worker_children()) == 1, "the spare asked for")
    finally:
        await service.close()
    assert not worker_children()


def _send_policy():
    from p2pchat.media.policy import SanitizePolicy

    return SanitizePolicy(side="send", scan_content=True)


def _receive_policy():
    from p2pchat.media.policy import SanitizePolicy

    return SanitizePolicy(max_long_edge=None, side="receive")


async def test_a_paired_service_keeps_a_spare_and_sends_with_it(embedded_mailbox: str) -> None:
    """Headless mode and the TUI set warm_send_worker: the spare waits from pairing on."""
    from tests.viewonce.conftest import next_event, pair_services

    alice, bob = await pair_services(
        embedded_mailbox, bob_changes={"warm_send_worker": True, "warm_image_worker": False}
    )
    try:
        await until(lambda: bob._send_spare.pid is not None, "bob's spare once paired")
        spare = bob._send_spare.pid
        assert "cv2" in (await bob._send_spare.ready())["modules"]
        prepared = await bob.prepare_image(demo_photo((320, 240)))
        assert spare not in worker_children()  # it cleaned bob's photo
        await bob.send_image(prepared)
        received = await next_event(alice, ev.ImageReceived)
        assert received.width == 320
        await until(lambda: bob._send_spare.pid not in (None, spare), "the next spare")
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)
    assert not worker_children()
