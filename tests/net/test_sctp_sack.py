"""The receiving side of p2pchat's SCTP transport acknowledges every second packet
(RFC 9260 section 6.2), at once when a TSN is missing, and a lone packet within
SACK_DELAY: half the SACKs, and the peer's loss recovery and timers unchanged.
Deterministic: two real aiortc associations over tests/net/sctp_wire.py."""

from __future__ import annotations

import asyncio

from p2pchat.net.sctp_sender import PacedSctpTransport
from tests.net.sctp_wire import Wire, sctp_pair

PAYLOAD = bytes(range(256)) * 1200  # 307 kB: about 260 chunks


def _count(wire: Wire, direction: str, kind: str) -> int:
    return sum(1 for d, k, _ in wire.log if d == direction and k == kind)


async def test_a_clean_transfer_gets_about_one_sack_per_two_packets() -> None:
    counts = {}
    for receiver_upgraded in (False, True):
        wire = Wire(delay=0.002)
        async with sctp_pair(wire, receiver_upgraded=receiver_upgraded) as pair:
            await pair.transfer(PAYLOAD)
        sacks = _count(wire, "b>a", "SackChunk")
        counts[receiver_upgraded] = (_count(wire, "a>b", "DataChunk"), sacks)
    stock_data, stock_sacks = counts[False]
    data, sacks = counts[True]
    assert stock_sacks >= stock_data - 5  # aiortc's receiver: one per packet
    assert sacks <= data * 0.6  # ours: every second one (plus a few lone packets)


async def test_a_missing_tsn_is_reported_at_once_so_recovery_needs_no_t3() -> None:
    # Chunk 20 is lost, then its fast retransmission too: found by SACKs alone.
    wire = Wire(drop=lambda direction, tsn, nth: direction == "a>b" and tsn == 20 and nth <= 2)
    async with sctp_pair(wire, receiver_upgraded=True) as pair:
        assert isinstance(pair.sender, PacedSctpTransport)
        await pair.transfer(PAYLOAD)
        assert pair.sender.t3_expirations == 0
        assert pair.sender.lost_retransmissions == 1
    assert wire.sends[("a>b", 20)] == 3


async def test_a_lone_packet_is_still_acknowledged_before_the_peer_times_out() -> None:
    wire = Wire(delay=0.005)
    async with sctp_pair(wire, receiver_upgraded=True) as pair:
        assert isinstance(pair.sender, PacedSctpTransport)
        await pair.transfer(b"one small message")
        for _ in range(2000):  # acknowledged after SACK_DELAY, long before T3
            if not pair.sender._sent_queue:
                break
            await asyncio.sleep(0.005)
        assert not pair.sender._sent_queue
        assert pair.sender.t3_expirations == 0
    assert max(wire.sends.values()) == 1  # nothing was sent twice


async def test_a_sack_due_after_the_link_closed_is_dropped_not_raised() -> None:
    """The delayed SACK is sent from a task nobody awaits: a ConnectionError from a DTLS
    link that closed meanwhile was "never retrieved", printed on a `receive`'s stderr."""
    wire = Wire(delay=0.005)
    async with sctp_pair(wire, receiver_upgraded=True) as pair:
        receiver = pair.receiver
        assert isinstance(receiver, PacedSctpTransport)
        dtls = receiver.transport

        async def closed(data: bytes) -> None:
            raise ConnectionError("Cannot send encrypted data, not connected")

        dtls._send_data = closed  # type: ignore[method-assign]
        await pair.transfer(b"one small message")  # a lone packet: its SACK waits
        for _ in range(2000):
            if receiver._sack_task is not None and receiver._sack_task.done():
                break
            await asyncio.sleep(0.005)
        assert receiver._sack_task is not None and receiver._sack_task.done()
        assert receiver._sack_task.exception() is None
        assert receiver.sends_after_close >= 1
