"""Fixtures of the view-once tests: two real ChatServices paired on 127.0.0.1, a test photo.

Everything is real (embedded mailbox server, aiortc on loopback, the isolated
sanitiser); only the terminal is Textual's headless one.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
from PIL import Image

from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from tests.tui.helpers import ALICE_KEY, BOB_KEY

DEADLINE = 30.0
E = TypeVar("E", bound=ev.ServiceEvent)


def loopback_config(url: str, key: Any, label: str, **changes: Any) -> ServiceConfig:
    return ServiceConfig(
        mailbox_url=url, ice=IceSettings(), loopback=True, identity=key, label=label, **changes
    )


def noise_photo(width: int = 96, height: int = 64, seed: int = 7) -> bytes:
    """A small JPEG of random noise: its bytes are unlike anything else on the disk."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


async def next_event(service: ChatService, kind: type[E], timeout: float = DEADLINE) -> E:
    """The next event of ``kind`` (others are skipped); fails the test on timeout."""

    async def wait() -> E:
        while True:
            event = await service.next_event()
            if isinstance(event, kind):
                return event
            if isinstance(event, ev.Failed):
                pytest.fail(f"service failed while waiting for {kind.__name__}: {event.message}")

    try:
        return await asyncio.wait_for(wait(), timeout)
    except TimeoutError:
        pytest.fail(f"no {kind.__name__} event within {timeout} s")


async def until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


async def pair_services(
    url: str, *, bob_changes: dict[str, Any] | None = None
) -> tuple[ChatService, ChatService]:
    alice = ChatService(loopback_config(url, ALICE_KEY, "alice"))
    bob = ChatService(loopback_config(url, BOB_KEY, "bob", **(bob_changes or {})))
    code = await alice.invite()
    await bob.join(code)
    await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
    return alice, bob


@pytest.fixture
async def services(embedded_mailbox: str) -> AsyncIterator[tuple[ChatService, ChatService]]:
    alice, bob = await pair_services(embedded_mailbox)
    try:
        yield alice, bob
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)
