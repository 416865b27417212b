#!/usr/bin/env python3
"""Anchor for the throughput benchmark: bare aiortc data-channel speed on loopback.

``bare_throughput(megabytes)`` moves that many MB of random bytes between two plain
RTCPeerConnections in this process, with no p2pchat code in the data path but the
same conditions p2pchat has: loopback-only candidates, no ICE servers, one
negotiated reliable ordered channel, 60 KiB messages and at most 256 KiB queued
(``bufferedamountlow``). scripts/bench.py compares p2pchat's encrypted transfer
against it in the same run. Run directly to print the figure:

    .venv/bin/python scripts/bench_rtc.py [MEGABYTES]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection

from p2pchat.net.loop import install_best_event_loop, run
from p2pchat.net.rtc import SEND_BUFFER_LIMIT, loopback_only

CHUNK_BYTES = 60 * 1024


def pace_on_low_buffer(channel: RTCDataChannel) -> asyncio.Event:
    """The event ``send_paced`` waits on: set when ``channel`` drains to half the limit."""
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = SEND_BUFFER_LIMIT // 2
    channel.on("bufferedamountlow", low.set)
    return low


async def send_paced(
    channel: RTCDataChannel, low: asyncio.Event, total: int, chunk_bytes: int = CHUNK_BYTES
) -> None:
    """``total`` random bytes in ``chunk_bytes`` messages, never more than
    ``SEND_BUFFER_LIMIT`` queued: what p2pchat's own sender allows itself."""
    payload = os.urandom(chunk_bytes)
    sent = 0
    while sent < total:
        size = min(chunk_bytes, total - sent)
        if channel.bufferedAmount + size > SEND_BUFFER_LIMIT:
            low.clear()
            await low.wait()
        channel.send(payload[:size])
        sent += size


async def bare_throughput(megabytes: float, *, chunk_bytes: int = CHUNK_BYTES) -> float:
    """MB/s (10^6 bytes) from the first send until the last byte has arrived."""
    total = int(megabytes * 1_000_000)
    with loopback_only():
        sender_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        receiver_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            out = sender_pc.createDataChannel("data", negotiated=True, id=1, ordered=True)
            inc = receiver_pc.createDataChannel("data", negotiated=True, id=1, ordered=True)
            opened = asyncio.Event()
            inc.on("open", opened.set)
            received = 0
            done = asyncio.Event()

            def on_message(message: bytes | str) -> None:
                nonlocal received
                received += len(message)
                if received >= total:
                    done.set()

            inc.on("message", on_message)
            low = pace_on_low_buffer(out)

            await sender_pc.setLocalDescription(await sender_pc.createOffer())
            await receiver_pc.setRemoteDescription(sender_pc.localDescription)
            await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
            await sender_pc.setRemoteDescription(receiver_pc.localDescription)
            await asyncio.wait_for(opened.wait(), 15)
            while out.readyState != "open":
                await asyncio.sleep(0.01)

            started = time.perf_counter()
            await send_paced(out, low, total, chunk_bytes)
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - started
        finally:
            await sender_pc.close()
            await receiver_pc.close()
    return total / 1_000_000 / elapsed


def main() -> int:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    loop_name = install_best_event_loop()
    rate = run(bare_throughput(megabytes))
    print(f"bare aiortc data channel, loopback, {loop_name}: {megabytes:g} MB at {rate:.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
