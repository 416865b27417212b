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
from typing import Any

from aiortc.rtcsctptransport import ForwardTsnChunk, RTCSctpTransport
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
