"""The load's polite clients: a minimal mailbox-protocol client (raw frames, so what is
measured is the server) and one pairing, inviter and joiner, as p2pchat makes it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

APPID = "p2pchat-load/test"


class Refused(Exception):
    """The server turned the connection away (its connection limit): retry later."""


@dataclass
class Stats:
    pairing_seconds: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    refused_retries: int = 0
    abuse: dict[str, dict[str, int]] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1

    def abuse_result(self, kind: str, outcome: str) -> None:
        bucket = self.abuse.setdefault(kind, {})
        bucket[outcome] = bucket.get(outcome, 0) + 1


# ---------------------------------------------------------------------- clients


class Client:
    """A minimal mailbox-protocol client (raw frames, so the measurement is the server's)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.side = secrets.token_hex(5)

    @classmethod
    async def open(cls, url: str, stats: Stats, deadline: float, address: str) -> Client:
        delay = 0.05
        while True:
            try:
                ws = await connect(
                    url,
                    open_timeout=10,
                    max_size=2**20,
                    compression=None,
                    local_addr=(address, 0),
                )
                client = cls(ws)
                await client.expect("welcome")
                return client
            except (InvalidStatus, ConnectionClosed, OSError, TimeoutError) as error:
                status = getattr(getattr(error, "response", None), "status_code", None)
                if status != 503 and not isinstance(error, OSError | ConnectionClosed):
                    raise
                if time.monotonic() + delay > deadline:
                    raise Refused(f"still refused at the deadline ({error})") from error
                stats.refused_retries += 1
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 2.0)

    async def send(self, **frame: Any) -> None:
        frame.setdefault("id", secrets.token_hex(2))
        await self.ws.send(json.dumps(frame))

    async def expect(self, kind: str, **match: Any) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await self.ws.recv())
            if frame.get("type") == "error":
                raise RuntimeError(f"server error: {frame.get('error')}")
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def peer_message(self, phase: str) -> dict[str, Any]:
        while True:
            frame = await self.expect("message", phase=phase)
            if frame.get("side") != self.side:
                return frame

    async def bind(self) -> None:
        await self.send(type="bind", appid=APPID, side=self.side)

    async def close(self, mailbox: str) -> None:
        await self.send(type="release")
        await self.expect("released")
        await self.send(type="close", mailbox=mailbox, mood="happy")
        await self.expect("closed")
        await self.ws.close()


async def exchange(client: Client) -> None:
    """The two phases p2pchat adds before the SDPs: pake (33 bytes) and version (~250)."""
    await client.send(type="add", phase="pake", body=secrets.token_hex(33))
    await client.peer_message("pake")
    await client.send(type="add", phase="version", body=secrets.token_hex(250))
    await client.peer_message("version")


def address(group: int, number: int) -> str:
    """The loopback address of client ``number`` in ``group`` (127.GROUP.x.y)."""
    return f"127.{group}.{number // 250}.{number % 250 + 1}"


PAIRING_GROUP, JOINER_GROUP, ABUSER_GROUP, FLOOD_ADDRESS, PROBE_GROUP = 1, 2, 3, "127.4.0.1", 5


async def pairing(url: str, stats: Stats, deadline: float, timeout: float, number: int = 0) -> None:
    started = time.monotonic()
    inviter = joiner = None
    try:
        async with asyncio.timeout(timeout):
            inviter = await Client.open(url, stats, deadline, address(PAIRING_GROUP, number))
            await inviter.bind()
            await inviter.send(type="allocate")
            nameplate = (await inviter.expect("allocated"))["nameplate"]
            await inviter.send(type="claim", nameplate=nameplate)
            mailbox = (await inviter.expect("claimed"))["mailbox"]
            await inviter.send(type="open", mailbox=mailbox)
            # The code is read aloud now: the joiner arrives once the nameplate exists.
            joiner = await Client.open(url, stats, deadline, address(JOINER_GROUP, number))
            await joiner.bind()
            await joiner.send(type="claim", nameplate=nameplate)
            joined = (await joiner.expect("claimed"))["mailbox"]
            if joined != mailbox:
                raise RuntimeError("the joiner got another mailbox")
            await joiner.send(type="open", mailbox=mailbox)
            await asyncio.gather(exchange(inviter), exchange(joiner))
            await asyncio.gather(inviter.close(mailbox), joiner.close(mailbox))
        stats.pairing_seconds.append(time.monotonic() - started)
    except Refused:
        stats.fail("refused until the deadline")
    except TimeoutError:
        stats.fail("timed out")
    except (RuntimeError, ConnectionClosed, OSError, InvalidStatus) as error:
        stats.fail(type(error).__name__ + (f": {error}" if isinstance(error, RuntimeError) else ""))
    finally:
        for client in (inviter, joiner):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.ws.close()
