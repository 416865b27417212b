"""The load's abusive clients (oversized frames, floods, half-open and garbage) and the
one-address nameplate flood, each of which the server must cut off or withstand."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mailboxload.clients import (
    ABUSER_GROUP,
    APPID,
    FLOOD_ADDRESS,
    Client,
    Stats,
    address,
    pairing,
)

# ----------------------------------------------------------------------- abusers


async def cut_off(ws: ClientConnection, timeout: float) -> bool:
    """True when the server closes the connection within ``timeout`` (reading meanwhile)."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except TimeoutError:
        return False
    except ConnectionClosed:
        return True
    return True


async def abuser(kind: str, url: str, port: int, stats: Stats, timeout: float, number: int) -> None:
    source = address(ABUSER_GROUP, number)
    try:
        if kind == "half-open-tcp":
            # TCP connected, WebSocket handshake never sent: the server must hang up.
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(source, 0)
            )
            try:
                async with asyncio.timeout(timeout):
                    closed = await reader.read(1) == b""
            except TimeoutError:
                closed = False
            writer.close()
            stats.abuse_result(kind, "cut off" if closed else "SURVIVED")
            return
        try:
            ws = await connect(
                url, open_timeout=10, max_size=2**20, compression=None, local_addr=(source, 0)
            )
        except InvalidStatus:
            stats.abuse_result(kind, "refused at the door")
            return
        async with ws:
            if kind == "oversized":
                with contextlib.suppress(ConnectionClosed):
                    await ws.send("x" * (1024 * 1024))
            elif kind == "flood":
                await ws.send(json.dumps({"type": "bind", "appid": APPID, "side": "flood"}))
                with contextlib.suppress(ConnectionClosed):
                    for n in range(5000):
                        await ws.send(json.dumps({"type": "ping", "ping": n}))
            elif kind == "garbage":
                with contextlib.suppress(ConnectionClosed):
                    await ws.send("{not json")
                    await ws.send(b"\x00binary")
            # "half-open": connected and silent; never binds.
            stats.abuse_result(kind, "cut off" if await cut_off(ws, timeout) else "SURVIVED")
    except (OSError, ConnectionClosed):
        stats.abuse_result(kind, "cut off")


ABUSE_KINDS = ("oversized", "flood", "half-open", "half-open-tcp", "garbage")


async def nameplate_flood(url: str, sockets: int, timeout: float) -> dict[str, Any]:
    """The audit's flood: one address, one allocated and claimed nameplate per socket.

    A normal pairing from other addresses runs while the flood holds its sockets and
    again right after it has disconnected; both must succeed.
    """
    outcome: dict[str, Any] = {"sockets": sockets, "refused_at_door": 0, "nameplates_taken": 0}
    refusals: dict[str, int] = {}
    held: list[ClientConnection] = []

    async def one() -> None:
        try:
            ws = await connect(
                url,
                open_timeout=timeout,
                max_size=2**20,
                compression=None,
                local_addr=(FLOOD_ADDRESS, 0),
            )
        except InvalidStatus:
            outcome["refused_at_door"] += 1
            return
        except (OSError, TimeoutError, ConnectionClosed):
            refusals["connection failed"] = refusals.get("connection failed", 0) + 1
            return
        held.append(ws)
        client = Client(ws)
        try:
            async with asyncio.timeout(timeout):
                await client.expect("welcome")
                await client.bind()
                await client.send(type="allocate")
                nameplate = (await client.expect("allocated"))["nameplate"]
                await client.send(type="claim", nameplate=nameplate)
                await client.expect("claimed")
            outcome["nameplates_taken"] += 1
        except RuntimeError as error:  # the server's `error` frame: the refusal we want
            reason = str(error).removeprefix("server error: ")
            refusals[reason] = refusals.get(reason, 0) + 1
        except (TimeoutError, ConnectionClosed, OSError) as error:
            refusals[type(error).__name__] = refusals.get(type(error).__name__, 0) + 1

    # Connect in bounded batches: the point is how many the server admits, not how
    # fast this one process can open sockets.
    for start in range(0, sockets, 200):
        await asyncio.gather(*(one() for _ in range(start, min(sockets, start + 200))))
    outcome["refused_allocations"] = refusals
    during = Stats()
    await pairing(url, during, time.monotonic() + 20, 20, number=0)
    outcome["pairing_during"] = len(during.pairing_seconds) == 1
    outcome["failure_during"] = during.failures or None
    await asyncio.gather(*(ws.close() for ws in held), return_exceptions=True)
    after = Stats()
    await pairing(url, after, time.monotonic() + 20, 20, number=1)
    outcome["pairing_after"] = len(after.pairing_seconds) == 1
    outcome["failure_after"] = after.failures or None
    return outcome
