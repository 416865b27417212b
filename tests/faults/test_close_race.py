"""Closing while the service is already closing: every caller returns, nothing hangs.

The relay found this one in CI: the peer says goodbye, the service starts shutting
down on its own (PeerLeft), and at that moment the user (or a script's ``close``
command) asks it to close too. The second close used to cancel the first one in
the middle of aiortc's ``RTCPeerConnection.close()``, whose second caller then
waited forever for a close that would never finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiortc
import pytest

from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from tests.paired_services import next_of
from tests.photos import photo

DEADLINE = 20.0


def config(url: str, label: str) -> ServiceConfig:
    return ServiceConfig(mailbox_url=url, ice=IceSettings(), loopback=True, label=label)


@contextlib.asynccontextmanager
async def paired(url: str) -> AsyncIterator[tuple[ChatService, ChatService]]:
    """Alice and Bob paired on loopback; both closed (bounded) afterwards."""
    alice, bob = ChatService(config(url, "alice")), ChatService(config(url, "bob"))
    try:
        await bob.join(await alice.invite())
        await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
        yield alice, bob
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


@pytest.fixture
def slow_sctp_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiortc's close takes a while, as on a loaded machine: the window the race needs."""
    original = aiortc.RTCSctpTransport.stop

    async def stop_slowly(self: Any) -> None:
        await asyncio.sleep(0.3)
        await original(self)

    monkeypatch.setattr(aiortc.RTCSctpTransport, "stop", stop_slowly)


async def test_close_during_the_shutdown_a_goodbye_started_returns(
    embedded_mailbox: str, slow_sctp_stop: None
) -> None:
    async with paired(embedded_mailbox) as (alice, bob):
        alice_closing = asyncio.ensure_future(alice.close())
        await next_of(bob, ev.PeerLeft)
        # Bob's own shutdown is under way now; closing again must join it, not break it.
        closers = [asyncio.ensure_future(bob.close()) for _ in range(3)]
        done, pending = await asyncio.wait(closers, timeout=DEADLINE)
        assert not pending, "a second close() never returned"
        for task in done:
            assert task.exception() is None
        assert bob.state == "closed"
        await next_of(bob, ev.Closed)
        await asyncio.wait_for(alice_closing, DEADLINE)


async def test_close_twice_at_once_on_a_paired_service(embedded_mailbox: str) -> None:
    async with paired(embedded_mailbox) as (alice, bob):
        first, second = asyncio.ensure_future(alice.close()), asyncio.ensure_future(alice.close())
        done, pending = await asyncio.wait([first, second], timeout=DEADLINE)
        assert not pending, "one of two simultaneous closes never returned"
        assert all(task.exception() is None for task in done)
        assert alice.state == "closed"
        # The goodbye went out once and bob heard it.
        assert isinstance(await next_of(bob, ev.PeerLeft), ev.PeerLeft)


async def test_closing_with_a_photo_half_cleaned_leaves_no_reaping_behind(
    embedded_mailbox: str,
) -> None:
    """A one-shot receiver closes the moment the last byte arrived (the bench's did):
    the photo's worker is killed mid-clean, and its reaping is over when close() returns,
    so no task is left pending when the caller's loop closes."""
    async with paired(embedded_mailbox) as (alice, bob):
        prepared = await alice.prepare_image(
            photo("nikon-gps-DSCN0010.jpg").read_bytes(), original_size=True
        )
        await alice.send_image(prepared)
        while True:
            progress = await next_of(bob, ev.TransferProgress)
            if progress.done_bytes >= progress.total_bytes:  # type: ignore[attr-defined]
                break
        await bob.close()
        reaping = [
            task
            for task in asyncio.all_tasks()
            if not task.done() and "Process.wait" in repr(task.get_coro())
        ]
        assert reaping == []
