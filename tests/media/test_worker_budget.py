"""One budget for all image workers; a receiver's refusals in a receiver's words.

A flood of hostile photos runs two workers at a time, and the rest is refused.

The attacker is a modified peer: a real ChatService that skips its own cleaning
and sends raw hostile bytes straight to ``send_image``. The receiver is a real,
unmodified ChatService on 127.0.0.1. Worker processes are counted in /proc.
"""

from __future__ import annotations

import asyncio
import contextlib

from p2pchat.i18n import set_language
from p2pchat.media.budget import MAX_QUEUED_PHOTOS, MAX_RUNNING_WORKERS
from p2pchat.media.report import PrivacyReport
from p2pchat.media.sanitize import SanitizedImage
from p2pchat.service import ChatService
from p2pchat.service import events as ev
from tests.media.hostile_files import deep_png, many_scans_jpeg
from tests.media.workers import worker_children
from tests.viewonce.conftest import next_event, services, until

__all__ = ["services"]
FLOOD = MAX_RUNNING_WORKERS + MAX_QUEUED_PHOTOS + 2


def unprepared(data: bytes) -> SanitizedImage:
    """What a modified peer sends: raw bytes dressed as a cleaned photo."""
    return SanitizedImage(data, "image/jpeg", 4096, 4096, PrivacyReport("JPEG", 4096, 4096))


async def test_a_flood_of_hostile_photos_runs_at_most_two_workers_and_the_rest_is_refused(
    services: tuple[ChatService, ChatService],
) -> None:
    mallory, bob = services
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(worker_children()))
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    try:
        hostile = many_scans_jpeg(4096, 6000)  # each: a minute of CPU at full size
        sent = [await mallory.send_image(unprepared(hostile)) for _ in range(FLOOD)]
        refused: list[ev.ImageRejected] = []
        while len(refused) < FLOOD - MAX_RUNNING_WORKERS - MAX_QUEUED_PHOTOS:
            refused.append(await next_event(bob, ev.ImageRejected))
        assert {r.reason for r in refused} == {
            "this photo was refused: too many photos are already waiting to be checked"
        }
        # The sender is told too: its transfer was cancelled by the receiver.
        told: set[str] = set()
        while len(told) < len(refused):
            cancelled = await next_event(mallory, ev.TransferCancelled)
            assert cancelled.by_peer and cancelled.direction == "out"
            told.add(cancelled.message_id)
        assert told == {r.message_id for r in refused} and told <= set(sent)
        await until(lambda: len(worker_children()) == MAX_RUNNING_WORKERS, "two workers run")
        # The session is up: a text still goes through while the workers run.
        await mallory.send_text("are you still there?")
        assert (await next_event(bob, ev.TextReceived)).text == "are you still there?"
        assert bob.state == "paired"
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert 0 < peak <= MAX_RUNNING_WORKERS
    await bob.close()
    await until(lambda: not worker_children(), "closing killed every worker")


async def test_a_receiver_refuses_a_deep_png_in_its_own_words(
    services: tuple[ChatService, ChatService],
) -> None:
    """Not "refusing to send: the output does not re-open": the receiver did the refusing."""
    mallory, bob = services
    message_id = await mallory.send_image(unprepared(deep_png(9400, 9400)))
    refused = await next_event(bob, ev.ImageRejected)
    assert (refused.message_id, refused.reason) == (
        message_id,
        "this photo was refused: it needs more memory than allowed",
    )
    try:
        set_language("ja")
        message_id = await mallory.send_image(unprepared(deep_png(9400, 9400)))
        refused = await next_event(bob, ev.ImageRejected)
    finally:
        set_language("en")
    assert refused.reason == "この写真は拒否されました: 許可された量を超えるメモリが必要です"
    assert bob.state == "paired"
