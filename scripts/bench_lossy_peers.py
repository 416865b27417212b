"""The peers of bench_lossy.py, one process each inside a namespace: a p2pchat sender and
receiver (``ChatService``) and a bare aiortc pair, each printing JSON lines (its code or
SDP, "ready", "start" and "done" with ``time.perf_counter()``) for the orchestrator.

bench_lossy.py starts them as ``bench_lossy.py --role ROLE ...``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

CHUNK = 60 * 1024
BUFFER_LIMIT = 256 * 1024


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def peer_p2pchat_send(url: str, photo: str) -> None:
    import asyncio

    from p2pchat.service import ChatService, ServiceConfig

    service = ChatService(ServiceConfig(mailbox_url=url))
    emit(code=await service.invite())
    await service.wait_paired(90)
    prepared = await service.prepare_image(Path(photo).read_bytes(), original_size=True)
    emit(event="ready")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    emit(event="start", t=time.perf_counter(), bytes=len(prepared.data))
    await service.send_image(prepared)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await service.close()


async def peer_p2pchat_receive(url: str) -> None:
    import asyncio

    from p2pchat.service import ChatService, ServiceConfig
    from p2pchat.service import events as ev

    code = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    service = ChatService(ServiceConfig(mailbox_url=url))
    await service.join(code.strip())
    await service.wait_paired(90)
    while True:
        event = await service.next_event()
        if isinstance(event, ev.TransferProgress) and event.done_bytes >= event.total_bytes:
            emit(event="done", t=time.perf_counter(), bytes=event.total_bytes)
            break
        if isinstance(event, ev.Failed | ev.PeerLeft):
            emit(event="failed", detail=type(event).__name__)
            break
    await service.close()


async def peer_bare(role: str, photo: str) -> None:
    import asyncio

    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    loop = asyncio.get_running_loop()
    data = Path(photo).read_bytes()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("data", negotiated=True, id=1, ordered=True)
    opened, done, low = asyncio.Event(), asyncio.Event(), asyncio.Event()
    channel.on("open", opened.set)
    channel.bufferedAmountLowThreshold = BUFFER_LIMIT // 2
    channel.on("bufferedamountlow", low.set)
    received = 0

    def on_message(message: bytes | str) -> None:
        nonlocal received
        received += len(message)
        if received >= len(data):
            emit(event="done", t=time.perf_counter(), bytes=received)
            done.set()

    channel.on("message", on_message)
    if role == "send":
        await pc.setLocalDescription(await pc.createOffer())
        emit(sdp=pc.localDescription.sdp)
        answer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.wait_for(opened.wait(), 60)
        emit(event="start", t=time.perf_counter(), bytes=len(data))
        for offset in range(0, len(data), CHUNK):
            if channel.bufferedAmount > BUFFER_LIMIT:
                low.clear()
                await low.wait()
            channel.send(data[offset : offset + CHUNK])
        await loop.run_in_executor(None, sys.stdin.readline)
    else:
        offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        emit(sdp=pc.localDescription.sdp)
        await done.wait()
    await pc.close()


def peer_main(role: str, args: list[str]) -> int:
    import asyncio

    if role == "p2pchat-send":
        asyncio.run(peer_p2pchat_send(*args))
    elif role == "p2pchat-receive":
        asyncio.run(peer_p2pchat_receive(*args))
    else:
        asyncio.run(peer_bare(role.removeprefix("bare-"), *args))
    return 0
