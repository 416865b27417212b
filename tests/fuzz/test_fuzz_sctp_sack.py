"""Fuzzing the SCTP sender's SACK handling (``p2pchat.net.sctp_sender``).

A peer writes the SACKs our sender reads: any cumulative TSN, gap blocks in any
order, reversed, overlapping or far beyond what was sent, any window. Each sequence
of hostile SACKs must be absorbed without an exception, and the sender's books must
stay consistent: the flight size is exactly the chunks it counts as in flight, and
never negative.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.rtcsctptransport import RTCSctpTransport, SackChunk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.net.sctp_sender import upgrade
from tests.net.sctp_wire import SinkDtls

GAP = st.tuples(st.integers(0, 120), st.integers(0, 120))
SACK = st.tuples(
    st.integers(-5, 80),  # cumulative TSN, relative to the first TSN sent
    st.lists(GAP, max_size=6),
    st.integers(0, 2**32 - 1),  # advertised window
)


async def absorb(sacks: list[tuple[int, list[tuple[int, int]], int]]) -> None:
    sctp: Any = RTCSctpTransport(SinkDtls())  # type: ignore[arg-type]
    assert upgrade(sctp)
    sctp._remote_port = 5000
    first = sctp._local_tsn
    await sctp._send(1, 53, bytes(100_000))  # about 87 chunks, the first window sent
    for relative, gaps, window in sacks:
        sack = SackChunk()
        sack.cumulative_tsn = (first + relative) % 2**32
        sack.gaps = gaps
        sack.duplicates = []
        sack.advertised_rwnd = window
        await sctp._receive_sack_chunk(sack)
        in_flight = sum(c._book_size for c in sctp._sent_queue if c._in_flight)
        assert sctp._flight_size == in_flight >= 0
    sctp._t3_cancel()
    if sctp._pace_handle is not None:
        sctp._pace_handle.cancel()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SACK, min_size=1, max_size=25))
def test_hostile_sacks_never_break_the_senders_books(
    sacks: list[tuple[int, list[tuple[int, int]], int]],
) -> None:
    asyncio.run(absorb(sacks))
