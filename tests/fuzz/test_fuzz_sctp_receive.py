"""Fuzzing the receiving side's TSN books (``p2pchat.net.sctp_receive``) against aiortc's.

A peer chooses which TSNs arrive, in what order, how often, and can jump the
cumulative TSN with FORWARD TSN. After every step our books (cumulative TSN,
out-of-order set, duplicates) and the SACK built from them must be what aiortc's
own ``_mark_received`` and ``_send_sack`` produce. aiortc sorts raw TSNs, so it
stalls where they wrap past 2**32 (the cumulative TSN stops before TSN 0); it is
therefore run from a base far from the wrap, ours also from bases near it, and the
two are compared as offsets from their bases.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from aiortc.rtcsctptransport import (
    SCTP_DATA_FIRST_FRAG,
    SCTP_DATA_LAST_FRAG,
    SCTP_DATA_UNORDERED,
    DataChunk,
    ForwardTsnChunk,
    RTCSctpTransport,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from p2pchat.net import sctp_receive
from p2pchat.net.sctp_sender import upgrade
from tests.net.sctp_wire import SinkDtls

# ("data", offset) or ("forward", offset): offsets from the starting cumulative TSN
STEP = st.tuples(st.sampled_from(["data"] * 9 + ["forward"]), st.integers(-3, 60))


def transport(base: int, upgraded: bool) -> Any:
    sctp: Any = RTCSctpTransport(SinkDtls())  # type: ignore[arg-type]
    if upgraded:
        assert upgrade(sctp)
    sctp._last_received_tsn = base
    sent: list[Any] = []

    async def capture(chunk: Any) -> None:
        sent.append(chunk)

    sctp._send_chunk = capture
    sctp.sent = sent
    return sctp


REFERENCE_BASE = 1_000_000


async def replay(base: int, steps: list[tuple[str, int]]) -> None:
    stock = transport(REFERENCE_BASE, upgraded=False)
    ours = transport(base, upgraded=True)

    def mine(tsn: int) -> int:
        return (tsn - base) % 2**32

    def theirs(tsn: int) -> int:
        return (tsn - REFERENCE_BASE) % 2**32

    for kind, offset in steps:
        if kind == "data":
            assert ours._mark_received((base + offset) % 2**32) == stock._mark_received(
                REFERENCE_BASE + offset
            )
        else:
            for sctp, start in ((stock, REFERENCE_BASE), (ours, base)):
                forward = ForwardTsnChunk()
                forward.cumulative_tsn = (start + offset) % 2**32
                forward.streams = []
                await sctp._receive_forward_tsn_chunk(forward)
        assert mine(ours._last_received_tsn) == theirs(stock._last_received_tsn)
        assert {mine(t) for t in ours._sack_misordered} == {
            theirs(t) for t in stock._sack_misordered
        }
        assert [mine(t) for t in ours._sack_duplicates] == [
            theirs(t) for t in stock._sack_duplicates
        ]
        sack = sctp_receive.build_sack(ours)
        await RTCSctpTransport._send_sack(stock)
        reference = stock.sent[-1]
        assert (mine(sack.cumulative_tsn), sack.gaps) == (
            theirs(reference.cumulative_tsn),
            reference.gaps,
        )
        stock._sack_duplicates.clear()
        ours._sack_duplicates.clear()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(2**32 - 20, [("data", 2), ("data", 20)])  # a gap block across the wrap
@example(2**32 - 20, [("data", 20), ("data", 1)])  # aiortc stalls here
@example(2**32 - 20, [("data", 12), ("data", 20), ("forward", 11)])  # and here
@given(
    st.sampled_from([0, 2**32 - 20, 2**31 - 5, 123456]),
    st.lists(STEP, min_size=1, max_size=80),
)
def test_our_tsn_books_and_sacks_match_aiortcs(base: int, steps: list[tuple[str, int]]) -> None:
    asyncio.run(replay(base, steps))


async def deliver_all(base: int, upgraded: bool, arrivals: list[Any]) -> list[tuple[int, bytes]]:
    sctp = transport(base, upgraded)
    delivered: list[tuple[int, bytes]] = []

    async def receive(stream_id: int, pp_id: int, data: bytes) -> None:
        delivered.append((stream_id, data))

    sctp._receive = receive
    for chunk in arrivals:
        await sctp._receive_data_chunk(copy.copy(chunk))
    return delivered


def messages_as_chunks(base: int, sizes: list[tuple[int, bool]]) -> list[DataChunk]:
    """Messages of ``size`` chunks each, ordered or not, on streams 1 and 3, in TSN order."""
    chunks: list[DataChunk] = []
    seq = {1: 0, 3: 0}
    tsn = base + 1
    for index, (size, ordered) in enumerate(sizes):
        stream = 1 if index % 2 else 3
        for part in range(size):
            chunk = DataChunk()
            chunk.flags = (
                (SCTP_DATA_FIRST_FRAG if part == 0 else 0)
                | (SCTP_DATA_LAST_FRAG if part == size - 1 else 0)
                | (0 if ordered else SCTP_DATA_UNORDERED)
            )
            chunk.tsn = tsn % 2**32
            chunk.stream_id, chunk.stream_seq, chunk.protocol = stream, seq[stream], 53
            chunk.user_data = bytes([index, part])
            chunks.append(chunk)
            tsn += 1
        if ordered:
            seq[stream] += 1
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([0, 2**32 - 10, 123456]),
    st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
    st.integers(0, 4),
)
def test_messages_are_delivered_as_aiortc_delivers_them(
    base: int, sizes: list[tuple[int, bool]], rng: Any, repeats: int
) -> None:
    chunks = messages_as_chunks(base, sizes)
    arrivals = chunks + [rng.choice(chunks) for _ in range(repeats)]  # duplicates
    rng.shuffle(arrivals)
    # aiortc is the reference away from the wrap (it stalls across it, see above).
    reference = messages_as_chunks(REFERENCE_BASE, sizes)
    by_offset = {(c.tsn - base) % 2**32: c for c in chunks}
    ref_by_offset = {(c.tsn - REFERENCE_BASE) % 2**32: c for c in reference}
    ref_arrivals = [ref_by_offset[(c.tsn - base) % 2**32] for c in arrivals]
    assert len(by_offset) == len(chunks)
    ours = asyncio.run(deliver_all(base, True, arrivals))
    theirs = asyncio.run(deliver_all(REFERENCE_BASE, False, ref_arrivals))
    assert ours == theirs
    assert sorted(data for _, data in ours) == sorted(
        b"".join(c.user_data for c in chunks if c.user_data[0] == i) for i in range(len(sizes))
    )
