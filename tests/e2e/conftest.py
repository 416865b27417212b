"""Fixtures for end-to-end tests: a tampering mailbox proxy in front of ``mailbox_process``.

``mailbox_process`` and ``config_dirs`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator

import pytest


class _TamperingProxy:
    """A malicious mailbox: relays to a real one but flips a byte in one phase's bodies.

    Runs its own event loop in a thread so that the sync subprocess tests can use it.
    """

    def __init__(self, upstream: str, phase: str) -> None:
        self.upstream = upstream
        self.phase = phase
        self.tampered = 0
        self.url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> str:
        self._thread.start()
        assert self._ready.wait(10)
        return self.url

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}/v1"
            self._ready.set()
            await self._stop.wait()

    def _alter(self, raw: str) -> str:
        message = json.loads(raw)
        if message.get("type") == "add" and message.get("phase") == self.phase:
            body = bytearray(bytes.fromhex(message["body"]))
            body[len(body) // 2] ^= 0x01
            message["body"] = body.hex()
            self.tampered += 1
            return json.dumps(message)
        return raw

    async def _handle(self, client) -> None:  # type: ignore[no-untyped-def]
        from websockets.asyncio.client import connect

        async with connect(self.upstream) as upstream:

            async def up() -> None:
                async for raw in client:
                    await upstream.send(self._alter(str(raw)))

            async def down() -> None:
                async for raw in upstream:
                    await client.send(raw)

            tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def tampering_mailbox(mailbox_process: str) -> Iterator[Callable[[str], str]]:
    proxies: list[_TamperingProxy] = []

    def make(phase: str) -> str:
        proxy = _TamperingProxy(mailbox_process, phase)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in proxies:
        proxy.stop()
    assert all(p.tampered > 0 for p in proxies), "the proxy never saw the phase it tampers"
