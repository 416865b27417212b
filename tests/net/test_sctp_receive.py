"""The receiving side's TSN books (``p2pchat.net.sctp_receive``) and the sender's SACK walk.

Both used to cost work in proportion to the data held behind a hole, for every
packet: these tests hold a hole open for a thousand chunks and count the work.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiortc.rtcsctptransport import (
    SCTP_DATA_FIRST_FRAG,
    SCTP_DATA_LAST_FRAG,
    DataChunk,
    RTCSctpTransport,
    SackChunk,
)

from p2pchat.net.ice import IceSettings
from p2pchat.net.rtc import RtcLink
from p2pchat.net.sctp_receive import UDP_RECEIVE_BUFFER
from p2pchat.net.sctp_sender import upgrade
from tests.net.sctp_wire import SinkDtls

HELD = 1000


class CallCounter:
    """Counts Python-level function calls while active (``sys.setprofile``)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            self.calls += 1


def receiver(base: int) -> tuple[Any, list[SackChunk]]:
    """An upgraded receiving transport whose SACKs land in the returned list."""
    sctp: Any = RTCSctpTransport(SinkDtls())  # type: ignore[arg-type]
    assert upgrade(sctp)
    sctp._last_received_tsn = base
    sent: list[SackChunk] = []

    async def capture(chunk: Any) -> None:
        sent.append(chunk)

    sctp._send_chunk = capture
    return sctp, sent


async def test_a_hole_held_open_costs_constant_work_per_chunk() -> None:
    base = 2**32 - 500  # the TSNs wrap around meanwhile
    sctp, sacks = receiver(base)
    counter = CallCounter()
    sys.setprofile(counter)
    try:
        # TSN base+1 is lost: the next thousand wait behind it, a SACK after each.
        for offset in range(2, HELD + 2):
            sctp._mark_received((base + offset) % 2**32)
            await sctp._send_sack()
    finally:
        sys.setprofile(None)
    # aiortc re-sorts and re-filters everything held for each chunk: a million calls.
    assert counter.calls < 40 * HELD
    assert len(sacks) == HELD
    assert sacks[-1].cumulative_tsn == base
    assert sacks[-1].gaps == [(2, HELD + 1)]
    sctp._mark_received((base + 1) % 2**32)  # the retransmission arrives
    assert sctp._last_received_tsn == (base + HELD + 1) % 2**32
    assert sctp._sack_misordered == set()
    await sctp._send_sack()  # in order again: the second packet is acknowledged
    await sctp._send_sack()
    assert sacks[-1].cumulative_tsn == (base + HELD + 1) % 2**32
    assert sacks[-1].gaps == []


class CountingQueue(deque[Any]):
    """A sent queue that counts how many chunks are looked at."""

    looked = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            CountingQueue.looked += 1
            yield item

    def __getitem__(self, index: Any) -> Any:
        CountingQueue.looked += 1
        return super().__getitem__(index)


async def test_a_sack_costs_what_it_newly_acknowledges_not_the_data_behind_a_hole() -> None:
    sctp: Any = RTCSctpTransport(SinkDtls())  # type: ignore[arg-type]
    assert upgrade(sctp)
    sctp._remote_port = 5000
    model = sctp._model
    model.cwnd = 10 * 2**20  # the whole payload in flight at once
    model._tokens = 1e9
    first = sctp._local_tsn
    await sctp._send(1, 53, bytes(1200 * HELD))
    count = len(sctp._sent_queue)
    assert count >= HELD - 10
    sctp._sent_queue = CountingQueue(sctp._sent_queue)
    CountingQueue.looked = 0
    cum = (first - 1) % 2**32
    for end in range(2, count, 2):  # the first chunk is lost; a SACK per two packets
        sack = SackChunk()
        sack.cumulative_tsn = cum
        sack.gaps = [(2, end)]
        sack.duplicates = []
        sack.advertised_rwnd = 2**20
        await sctp._receive_sack_chunk(sack)
    assert sctp.fast_retransmissions == 1
    # aiortc's walk, and ours before, looked at every chunk behind the hole per SACK.
    assert CountingQueue.looked < 20 * count
    sctp._t3_cancel()
    if sctp._pace_handle is not None:
        sctp._pace_handle.cancel()
    await asyncio.sleep(0)


async def test_an_rtclinks_sockets_ask_for_a_receive_buffer_as_deep_as_the_window() -> None:
    # Only the kernel's cap (net.core.rmem_max) may make it smaller; Linux reports
    # twice what was granted. aioice alone asked for 256 KiB, and a busy receiver's
    # socket then dropped hundreds of datagrams in a burst on the lab link.
    cap = int(Path("/proc/sys/net/core/rmem_max").read_text())
    link = RtcLink(IceSettings(), loopback=True)
    try:
        await link.create_offer()  # gathering opens the sockets
        ice: Any = link._pc.sctp.transport.transport  # type: ignore[union-attr]
        sockets = [p.transport.get_extra_info("socket") for p in ice._connection._protocols]
        assert sockets
        for sock in sockets:
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            assert granted == 2 * min(UDP_RECEIVE_BUFFER, cap)
    finally:
        await link.close()


def fragments(first_tsn: int, data: bytes, stream_seq: int = 0) -> list[DataChunk]:
    """``data`` as one ordered message on stream 1, in chunks of at most 1,200 bytes."""
    pieces = [data[i : i + 1200] for i in range(0, len(data), 1200)]
    chunks = []
    for index, piece in enumerate(pieces):
        chunk = DataChunk()
        chunk.flags = (SCTP_DATA_FIRST_FRAG if index == 0 else 0) | (
            SCTP_DATA_LAST_FRAG if index == len(pieces) - 1 else 0
        )
        chunk.tsn = (first_tsn + index) % 2**32
        chunk.stream_id, chunk.stream_seq, chunk.protocol = 1, stream_seq, 53
        chunk.user_data = piece
        chunks.append(chunk)
    return chunks


async def test_a_long_message_is_reassembled_with_constant_work_per_chunk() -> None:
    base = 2**32 - 300
    sctp, _ = receiver(base)
    delivered: list[bytes] = []

    async def receive(stream_id: int, pp_id: int, data: bytes) -> None:
        delivered.append(data)

    sctp._receive = receive
    payload = bytes(range(256)) * 4700  # 1.2 MB: a thousand chunks
    chunks = fragments(base + 1, payload)
    counter = CallCounter()
    sys.setprofile(counter)
    try:
        for chunk in chunks[:500] + chunks[501:]:  # one chunk is late
            await sctp._receive_data_chunk(chunk)
        assert delivered == []
        await sctp._receive_data_chunk(chunks[500])
    finally:
        sys.setprofile(None)
    # aiortc scanned the whole reassembly queue after each chunk: half a million calls.
    assert counter.calls < 40 * len(chunks)
    assert delivered == [payload]
    assert sctp._advertised_rwnd == 1024 * 1024
