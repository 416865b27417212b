#!/usr/bin/env python3
"""Measure p2pchat against its targets (DESIGN section 8), each beside an anchor
measured in the same run: bare aiortc data channels, `wormhole send`/`receive`
(magic-wormhole with its mailbox server and transit relay on 127.0.0.1), mat2.

Everything runs on 127.0.0.1. Prints a table, then one JSON line with all figures.

The transfer and its text latency are measured twice: with both peers in this one
process (one event loop does the work of both ends) and, as two people would run it,
with the receiver in a second process (scripts/bench_two_process.py); bare aiortc is
measured the same two ways.

    .venv/bin/python scripts/bench.py            # everything
    .venv/bin/python scripts/bench.py --quick    # fewer rounds, smaller payload
    .venv/bin/python scripts/bench.py --only pairing,transfer
    .venv/bin/python scripts/bench.py --only door   # door to door against wormhole
    sudo .venv/bin/python scripts/bench.py --only lossy  # lossy-link matrix (bench_lossy.py)

Speed is reported here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from bench_common import noise_png, percentile  # noqa: E402
from bench_table import build_rows, print_table  # noqa: E402
from bench_wormhole import wormhole_transfer  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "photos"


# --------------------------------------------------------------------------- p2pchat pairs
async def paired_services(url: str, **config: Any) -> tuple[Any, Any, float]:
    """Two ChatServices paired on loopback; returns them and code-entered -> paired seconds."""
    from p2pchat.service import ChatService, ServiceConfig

    alice = ChatService(ServiceConfig(mailbox_url=url, loopback=True, **config))
    bob = ChatService(ServiceConfig(mailbox_url=url, loopback=True, **config))
    code = await alice.invite()
    started = time.perf_counter()
    await bob.join(code)
    await asyncio.gather(alice.wait_paired(30), bob.wait_paired(30))
    return alice, bob, time.perf_counter() - started


async def wait_for(service: Any, predicate: Callable[[Any], bool], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(service.next_event(), max(0.1, deadline - time.monotonic()))
        if predicate(event):
            return event


async def bench_pairing(url: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        alice, bob, seconds = await paired_services(url)
        times.append(seconds)
        await asyncio.gather(alice.close(), bob.close())
    return times


async def bench_transfer(url: str, megabytes: float) -> dict[str, Any]:
    """Original-size transfer: throughput, and text latency while it is in flight."""
    from p2pchat.service import events as ev

    payload = noise_png(megabytes)
    alice, bob, _ = await paired_services(url)
    prepared = await alice.prepare_image(payload, original_size=True)
    size = len(prepared.data)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    finished_at = 0.0

    async def receiver() -> None:
        nonlocal finished_at
        while not done.is_set():
            event = await bob.next_event()
            now = time.perf_counter()
            if isinstance(event, ev.TextReceived) and event.text in sent_at:
                latencies.append(now - sent_at[event.text])
            elif isinstance(event, ev.TransferProgress) and event.done_bytes >= event.total_bytes:
                finished_at = now
                done.set()

    async def chatter() -> None:
        index = 0
        while not done.is_set():
            text = f"ping {index}"
            sent_at[text] = time.perf_counter()
            await alice.send_text(text)
            index += 1
            await asyncio.sleep(0.05)

    receiving = asyncio.ensure_future(receiver())
    started = time.perf_counter()
    await alice.send_image(prepared)
    chatting = asyncio.ensure_future(chatter())
    await asyncio.wait_for(done.wait(), 300)
    chatting.cancel()
    receiving.cancel()
    seconds = finished_at - started
    await asyncio.gather(alice.close(), bob.close())
    return {
        "bytes": size,
        "seconds": seconds,
        "mb_per_s": size / seconds / 1e6,
        "text_latency_p50_ms": percentile(latencies, 50) * 1000,
        "text_latency_p95_ms": percentile(latencies, 95) * 1000,
        "text_samples": len(latencies),
    }


def photo_12mp() -> bytes:
    """A 4000x3000 JPEG with EXIF (GPS, camera, serial), like a phone photo."""
    from PIL import Image, ImageDraw

    image = Image.effect_noise((4000, 3000), 40).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(0, 4000, 200):
        draw.rectangle((i, 0, i + 100, 3000), fill=(i % 255, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 7D"
    exif[0x0132] = "2024:05:01 12:00:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (35.0, 39.0, 31.0), 3: "E", 4: (139.0, 44.0, 43.0)})
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


async def bench_photo(url: str, rounds: int) -> list[float]:
    """12 MP JPEG, default policy: from pressing send (sanitise included) to decoded at Bob."""
    from p2pchat.service import events as ev

    photo = photo_12mp()
    alice, bob, _ = await paired_services(url)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        prepared = await alice.prepare_image(photo)
        await alice.send_image(prepared)
        await wait_for(bob, lambda e: isinstance(e, ev.ImageReceived | ev.ImageRejected))
        times.append(time.perf_counter() - started)
    await asyncio.gather(alice.close(), bob.close())
    return times


async def run_p2pchat(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from p2pchat.net.mailbox_server import MailboxServer

    server = MailboxServer(host="127.0.0.1", port=0)
    url = await server.start()
    try:
        if "pairing" in args.only:
            results["pairing_s"] = await bench_pairing(url, args.rounds)
        if "transfer" in args.only:
            results["transfer"] = await bench_transfer(url, args.megabytes)
        if "twoproc" in args.only:
            from bench_two_process import interleaved, p2pchat_two_process

            rounds = 1 if args.quick else 3
            payload = noise_png(args.megabytes)
            if "bare" in args.only:  # A, B, A, B, ...: the anchor swings with the machine
                results["transfer_two_process"], results["bare_two_process"] = await interleaved(
                    url, payload, args.megabytes, max(3, rounds)
                )
            else:
                results["transfer_two_process"] = await p2pchat_two_process(url, payload, rounds)
        if "photo" in args.only:
            results["photo_s"] = await bench_photo(url, max(3, args.rounds // 2))
    finally:
        await server.stop()


# --------------------------------------------------------------------------- anchors
async def bare_aiortc(megabytes: float) -> float:
    from bench_rtc import bare_throughput

    return float(await bare_throughput(megabytes))


async def bare_connect(rounds: int) -> list[float]:
    """Two bare RTCPeerConnections: offer -> data channel open (no rendezvous, no PAKE)."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    from p2pchat.net.rtc import loopback_only

    times = []
    with loopback_only():
        for _ in range(rounds):
            a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            opened = asyncio.Event()
            a.createDataChannel("c", negotiated=True, id=0)
            b.createDataChannel("c", negotiated=True, id=0).on("open", opened.set)
            started = time.perf_counter()
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
            await a.setRemoteDescription(b.localDescription)
            await asyncio.wait_for(opened.wait(), 20)
            times.append(time.perf_counter() - started)
            await a.close()
            await b.close()
    return times


def sanitize_figures() -> dict[str, Any] | None:
    try:
        from bench_sanitize import bench
    except ImportError:
        return None
    return dict(bench(CORPUS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 5 MB payload")
    parser.add_argument(
        "--only",
        default="pairing,transfer,twoproc,photo,bare,wormhole,sanitize,content,tui,door",
        help="comma-separated subset",
    )
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    args.rounds = 5 if args.quick else 15
    args.megabytes = 5.0 if args.quick else 20.0
    from p2pchat.net.loop import new_event_loop

    results: dict[str, Any] = {"megabytes": args.megabytes}
    loop = new_event_loop()
    try:
        loop.run_until_complete(run_p2pchat(args, results))
        if "bare" in args.only:
            results["bare_aiortc_mb_per_s"] = loop.run_until_complete(bare_aiortc(args.megabytes))
            results["bare_connect_s"] = loop.run_until_complete(bare_connect(args.rounds))
    finally:
        loop.close()
    if "wormhole" in args.only:
        results["wormhole"] = wormhole_transfer(args.megabytes)
    if "sanitize" in args.only:
        results["sanitize"] = sanitize_figures()
    if "tui" in args.only:
        results["tui"] = tui_figures(args)
    if "door" in args.only:  # whole processes against wormhole (scripts/bench_door.py)
        from bench_door import door_to_door

        results["door"] = door_to_door(photo_12mp(), 3)
    if "content" in args.only:
        from bench_content import bench as bench_content

        results["content"] = bench_content()
    print(json.dumps(results, default=str), file=sys.stderr)  # kept even if the table fails
    rows = build_rows(results)
    if results.get("door"):
        from bench_door import rows as door_rows

        rows.extend(door_rows(results["door"]))
    if results.get("content"):
        from bench_content import rows as content_rows

        rows.extend(content_rows(results["content"]))
    if results.get("tui"):
        tui = results["tui"]
        rows.append(
            (
                "TUI event-loop lag during a transfer",
                f"p99 {tui['lag_p99_ms']:.0f} ms, max {tui['lag_max_ms']:.0f} ms",
                "-",
                "p99 <= 50 ms",
            )
        )
        if tui.get("image_visible_s") is not None:
            rows.append(
                (
                    "TUI: send -> image visible on the other side",
                    f"{tui['image_visible_s']:.2f} s",
                    "-",
                    "-",
                )
            )
    print_table(rows)
    print(json.dumps(results, default=str))
    if "lossy" in args.only:  # opt-in: needs root, takes minutes (scripts/bench_lossy.py)
        lossy = [sys.executable, str(ROOT / "scripts" / "bench_lossy.py")]
        return subprocess.run([*lossy, *(["--loss", "5", "--rtt", "100"] * args.quick)]).returncode
    return 0


def tui_figures(args: argparse.Namespace) -> dict[str, Any] | None:
    try:
        from bench_tui import bench_tui
    except ImportError:
        return None
    result: dict[str, Any] = bench_tui(args.megabytes)
    return result


if __name__ == "__main__":
    sys.exit(main())
