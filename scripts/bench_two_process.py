#!/usr/bin/env python3
"""Transfer throughput and text latency with sender and receiver in two processes.

Two people chat from two machines, so each end has its own event loop and CPU. The
one-process figures in scripts/bench.py put both ends on one loop, where every chunk
the receiver decrypts delays the sender and the other way round; they are kept for
continuity. Here the receiver runs in a child process (multiprocessing, spawn) and
both ends take time from the same clock (``time.perf_counter`` is CLOCK_MONOTONIC,
shared by all processes on Linux), so a text's latency is "sent by Alice" to "shown
to Bob" across processes.

The anchor is bare aiortc set up the same way: two processes, a data channel
carrying 60 KiB messages with at most ``SEND_BUFFER_LIMIT`` queued, and a second
channel carrying a timestamp every 50 ms.

    .venv/bin/python scripts/bench_two_process.py [MEGABYTES]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from multiprocessing.queues import Queue
from typing import Any

from bench_common import noise_png, percentile

TEXT_INTERVAL = 0.05
ROUNDS = 3


def _context() -> Any:
    return multiprocessing.get_context("spawn")


async def _from_queue(queue: Queue[Any], timeout: float = 120) -> Any:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.run_in_executor(None, queue.get, True, timeout), timeout)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for r in rounds for x in r["latencies"]]
    return {
        "mb_per_s": statistics.median(r["mb_per_s"] for r in rounds),
        "mb_per_s_rounds": [r["mb_per_s"] for r in rounds],
        "text_latency_p50_ms": percentile(latencies, 50) * 1000,
        "text_latency_p95_ms": percentile(latencies, 95) * 1000,
        "text_samples": len(latencies),
    }


# --------------------------------------------------------------------------- p2pchat
def _p2pchat_receiver(url: str, codes: Queue[str], out: Queue[Any]) -> None:
    from p2pchat.net.loop import run
    from p2pchat.net.rtc import loopback_only
    from p2pchat.service import ChatService, ServiceConfig
    from p2pchat.service import events as ev

    async def main() -> None:
        bob = ChatService(ServiceConfig(mailbox_url=url, loopback=True))
        await bob.join(codes.get(timeout=60))
        await bob.wait_paired(60)
        while True:
            event = await bob.next_event()
            now = time.perf_counter()
            if isinstance(event, ev.TextReceived):
                out.put(("text", event.text, now))
            elif isinstance(event, ev.TransferProgress) and event.done_bytes >= event.total_bytes:
                out.put(("done", "", now))
                break
            elif isinstance(event, ev.Failed | ev.PeerLeft):
                out.put(("failed", "", now))
                break
        await bob.close()

    with loopback_only():
        run(main())


async def p2pchat_round(url: str, payload: bytes) -> dict[str, Any]:
    from p2pchat.service import ChatService, ServiceConfig

    ctx = _context()
    codes: Queue[str] = ctx.Queue()
    out: Queue[Any] = ctx.Queue()
    receiver = ctx.Process(target=_p2pchat_receiver, args=(url, codes, out), daemon=True)
    receiver.start()
    alice = ChatService(ServiceConfig(mailbox_url=url, loopback=True))
    try:
        codes.put(await alice.invite())
        await alice.wait_paired(60)
        prepared = await alice.prepare_image(payload, original_size=True)
        sent_at: dict[str, float] = {}

        async def chatter() -> None:
            index = 0
            while True:
                text = f"ping {index}"
                sent_at[text] = time.perf_counter()
                await alice.send_text(text)
                index += 1
                await asyncio.sleep(TEXT_INTERVAL)

        started = time.perf_counter()
        await alice.send_image(prepared)
        chatting = asyncio.ensure_future(chatter())
        latencies: list[float] = []
        try:
            while True:
                kind, text, at = await _from_queue(out)
                if kind == "failed":
                    raise RuntimeError("the receiving process lost the connection")
                if kind == "done":
                    finished = at
                    break
                if text in sent_at:
                    latencies.append(at - sent_at[text])
        finally:
            chatting.cancel()
        return {
            "mb_per_s": len(prepared.data) / (finished - started) / 1e6,
            "bytes": len(prepared.data),
            "latencies": latencies,
        }
    finally:
        await alice.close()
        await asyncio.get_running_loop().run_in_executor(None, receiver.join, 30)
        if receiver.is_alive():
            receiver.kill()


async def p2pchat_two_process(url: str, payload: bytes, rounds: int = ROUNDS) -> dict[str, Any]:
    results = [await p2pchat_round(url, payload) for _ in range(rounds)]
    return {"bytes": results[0]["bytes"], **summary(results)}


# --------------------------------------------------------------------------- bare aiortc
def _bare_receiver(total: int, offers: Queue[Any], out: Queue[Any]) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from p2pchat.net.loop import run
    from p2pchat.net.rtc import loopback_only

    async def main() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        data = pc.createDataChannel("data", negotiated=True, id=1, ordered=True)
        control = pc.createDataChannel("control", negotiated=True, id=0, ordered=True)
        received = 0
        done = asyncio.Event()
        latencies: list[float] = []

        def on_data(message: bytes | str) -> None:
            nonlocal received
            received += len(message)
            if received >= total:
                done.set()

        def on_control(message: bytes | str) -> None:
            latencies.append(time.perf_counter() - float(message))

        data.on("message", on_data)
        control.on("message", on_control)
        sdp, kind = offers.get(timeout=60)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
        await pc.setLocalDescription(await pc.createAnswer())
        out.put((pc.localDescription.sdp, pc.localDescription.type))
        await asyncio.wait_for(done.wait(), 300)
        out.put((time.perf_counter(), latencies))
        await asyncio.sleep(0.2)
        await pc.close()

    with loopback_only():
        run(main())


async def bare_round(megabytes: float) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from bench_rtc import pace_on_low_buffer, send_paced

    total = int(megabytes * 1_000_000)
    ctx = _context()
    offers: Queue[Any] = ctx.Queue()
    out: Queue[Any] = ctx.Queue()
    receiver = ctx.Process(target=_bare_receiver, args=(total, offers, out), daemon=True)
    receiver.start()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        data = pc.createDataChannel("data", negotiated=True, id=1, ordered=True)
        control = pc.createDataChannel("control", negotiated=True, id=0, ordered=True)
        opened = asyncio.Event()
        data.on("open", opened.set)
        low = pace_on_low_buffer(data)
        await pc.setLocalDescription(await pc.createOffer())
        offers.put((pc.localDescription.sdp, pc.localDescription.type))
        sdp, kind = await _from_queue(out)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
        await asyncio.wait_for(opened.wait(), 30)

        async def chatter() -> None:
            while True:
                control.send(repr(time.perf_counter()))
                await asyncio.sleep(TEXT_INTERVAL)

        started = time.perf_counter()
        chatting = asyncio.ensure_future(chatter())
        try:
            await send_paced(data, low, total)
            finished, latencies = await _from_queue(out, 300)
        finally:
            chatting.cancel()
        return {"mb_per_s": total / (finished - started) / 1e6, "latencies": latencies}
    finally:
        await pc.close()
        await asyncio.get_running_loop().run_in_executor(None, receiver.join, 30)
        if receiver.is_alive():
            receiver.kill()


async def bare_two_process(megabytes: float, rounds: int = ROUNDS) -> dict[str, Any]:
    from p2pchat.net.rtc import loopback_only

    with loopback_only():
        return summary([await bare_round(megabytes) for _ in range(rounds)])


async def interleaved(
    url: str, payload: bytes, megabytes: float, rounds: int = ROUNDS
) -> tuple[dict[str, Any], dict[str, Any]]:
    """p2pchat and bare aiortc in alternate rounds (A, B, A, B, ...): a machine whose speed
    drifts during the run (other work on its two cores) then moves both alike. Each side
    gets its median and its spread (min, max); ``ratio_rounds`` pairs round i of each."""
    from p2pchat.net.rtc import loopback_only

    ours: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    for _ in range(rounds):
        ours.append(await p2pchat_round(url, payload))
        with loopback_only():
            bare.append(await bare_round(megabytes))
    ratios = [a["mb_per_s"] / b["mb_per_s"] for a, b in zip(ours, bare, strict=True)]
    mine = {"bytes": ours[0]["bytes"], **summary(ours), "ratio_rounds": ratios}
    mine["ratio"] = statistics.median(ratios)
    return mine, summary(bare)


def main() -> int:
    from p2pchat.net.loop import run
    from p2pchat.net.mailbox_server import MailboxServer

    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        server = MailboxServer()
        url = await server.start()
        try:
            ours = await p2pchat_two_process(url, noise_png(megabytes))
        finally:
            await server.stop()
        return ours, await bare_two_process(megabytes)

    ours, bare = run(both())
    for name, figures in (("p2pchat", ours), ("bare aiortc", bare)):
        print(
            f"{name}: {figures['mb_per_s']:.1f} MB/s, text latency p95 "
            f"{figures['text_latency_p95_ms']:.0f} ms, p50 {figures['text_latency_p50_ms']:.0f} ms "
            f"(n={figures['text_samples']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
