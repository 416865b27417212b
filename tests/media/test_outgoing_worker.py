"""Our own photos are cleaned in the isolated worker, and a slow one never holds up the chat.

The audit's two files are generated here: a progressive JPEG repeating its last
scan thousands of times (minutes of CPU) and a 16-bit PNG within the pixel limit
(gigabytes to decode). Real services on 127.0.0.1, real workers; the worker
processes are observed in /proc, not through the code under test.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected
from p2pchat.headless import HeadlessSession, JsonLinesWriter
from p2pchat.media.samples import demo_photo
from p2pchat.media.sanitize import SanitizePolicy
from p2pchat.media.worker import sanitize_async, sanitize_isolated
from p2pchat.service import ChatService
from p2pchat.service import events as ev
from tests.media.hostile_files import deep_png, many_scans_jpeg
from tests.media.workers import worker_children
from tests.tui.helpers import ALICE_KEY
from tests.viewonce.conftest import DEADLINE, loopback_config, next_event, services, until

__all__ = ["services"]  # the fixture: two real services paired on 127.0.0.1
CLOSED = "this photo was not sent: the conversation ended while it was being cleaned"


@pytest.fixture(scope="module")
def endless_jpeg() -> bytes:
    # About 360 kB; in the chat process it cost well over a minute of CPU.
    return many_scans_jpeg(4096, 8000)


async def test_a_hostile_photo_being_prepared_holds_up_neither_texts_nor_close(
    services: tuple[ChatService, ChatService], endless_jpeg: bytes
) -> None:
    alice, bob = services
    preparing = asyncio.ensure_future(alice.prepare_image(endless_jpeg))
    await until(worker_children, "the photo is cleaned in a worker process, not in the chat")
    await alice.send_text("still here")
    assert (await next_event(bob, ev.TextReceived)).text == "still here"
    await asyncio.wait_for(alice.close(), DEADLINE)
    with pytest.raises(ImageRejected) as refused:
        await asyncio.wait_for(preparing, DEADLINE)
    assert str(refused.value) == CLOSED
    await until(lambda: not worker_children(), "closing killed the worker")


async def test_a_deep_png_costs_the_sender_only_a_clear_refusal() -> None:
    # 88 MP of 16-bit RGBA in under a megabyte: 1.5 GB in the chat process before.
    service = ChatService(loopback_config("ws://127.0.0.1:9/v1", ALICE_KEY, "alice"))
    with pytest.raises(ImageRejected) as refused:
        await service.prepare_image(deep_png(9400, 9400), original_size=True)
    assert str(refused.value) == "this photo cannot be sent: it needs more memory than allowed"


async def test_a_photo_that_takes_too_long_is_refused_in_each_sides_words() -> None:
    slow = many_scans_jpeg(2048, 20_000)
    with pytest.raises(ImageRejected) as sending:
        await sanitize_async(slow, SanitizePolicy(side="send"), timeout=2)
    assert str(sending.value) == "this photo cannot be sent: cleaning it took longer than 2 s"
    with pytest.raises(ImageRejected) as receiving:
        sanitize_isolated(slow, SanitizePolicy(side="receive", max_long_edge=None), timeout=2)
    assert str(receiving.value) == "this photo was refused: checking it took longer than 2 s"
    assert not worker_children()


async def test_headless_sends_texts_and_closes_while_a_hostile_photo_is_cleaned(
    services: tuple[ChatService, ChatService], endless_jpeg: bytes, tmp_path: Path
) -> None:
    alice, bob = services
    photo = tmp_path / "forwarded.jpg"
    photo.write_bytes(endless_jpeg)
    out = io.StringIO()
    commands: asyncio.Queue[str | None] = asyncio.Queue()
    running = asyncio.ensure_future(HeadlessSession(alice, JsonLinesWriter(out)).run(commands))
    commands.put_nowait(json.dumps({"cmd": "send_image", "path": str(photo)}))
    commands.put_nowait(json.dumps({"cmd": "send_text", "text": "not stuck"}))
    assert (await next_event(bob, ev.TextReceived)).text == "not stuck"
    assert '"error"' not in out.getvalue()  # the photo is still being cleaned meanwhile
    commands.put_nowait(json.dumps({"cmd": "close"}))
    assert await asyncio.wait_for(running, DEADLINE) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    errors = [event for event in events if event["event"] == "error"]
    assert errors == [{"event": "error", "message": CLOSED, "fatal": False, "path": str(photo)}]
    assert not any(event["event"] == "report" for event in events)
    await until(lambda: not worker_children(), "closing killed the worker")


async def test_headless_end_of_input_still_sends_the_photos_it_asked_for(
    services: tuple[ChatService, ChatService], tmp_path: Path
) -> None:
    alice, bob = services
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(demo_photo((320, 240)))
    out = io.StringIO()
    commands: asyncio.Queue[str | None] = asyncio.Queue()
    commands.put_nowait(json.dumps({"cmd": "send_image", "path": str(photo)}))
    commands.put_nowait(json.dumps({"cmd": "send_text", "text": "a photo follows"}))
    commands.put_nowait(None)  # EOF right away, as `printf ... | p2pchat headless` gives
    session = HeadlessSession(alice, JsonLinesWriter(out))
    assert await asyncio.wait_for(session.run(commands), DEADLINE) == 0
    received = await next_event(bob, ev.ImageReceived)
    assert (received.width, received.height) == (320, 240)
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert "error" not in events
    assert events.index("report") < events.index("closed")
