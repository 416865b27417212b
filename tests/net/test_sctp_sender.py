"""The faster SCTP sender: one test per recovery rule, on a simulated lossy wire.

Two real aiortc associations talk through ``tests.net.sctp_wire`` (only DTLS is
faked); which packets are lost is decided by TSN and transmission number, so every
run loses the same packets. Each test checks counts and states, never durations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiortc
import pytest
from aiortc.rtcsctptransport import RTCSctpTransport

from p2pchat.net import sctp_sender
from p2pchat.net.ice import IceSettings
from p2pchat.net.rtc import RtcLink
from p2pchat.net.sctp_model import INITIAL_WINDOW_PACKETS
from p2pchat.net.sctp_sender import MTU, RTO_MIN, PacedSctpTransport, is_upgraded, upgrade
from tests.net.sctp_wire import FakeDtls, SinkDtls, Wire, sctp_pair

PAYLOAD = bytes(range(256)) * 1200  # 307 kB: about 260 chunks


def data_sends(wire: Wire) -> dict[int, int]:
    return {tsn: count for (direction, tsn), count in wire.sends.items() if direction == "a>b"}


def spy_t3(sctp: RTCSctpTransport) -> list[int]:
    """Record the congestion window right after each T3 expiry."""
    windows: list[int] = []
    expire = sctp._t3_expired

    def expired() -> None:
        expire()
        windows.append(sctp._cwnd)

    sctp._t3_expired = expired  # type: ignore[method-assign]
    return windows


async def test_a_lost_retransmission_is_resent_once_without_waiting_for_t3() -> None:
    # Chunk 20 is lost, then its fast retransmission is lost too.
    wire = Wire(drop=lambda direction, tsn, nth: direction == "a>b" and tsn == 20 and nth <= 2)
    async with sctp_pair(wire) as pair:
        t3 = spy_t3(pair.sender)
        await pair.transfer(PAYLOAD)
    assert t3 == []
    # Exactly original + lost retransmission + the one that arrived: SACKs for chunks
    # sent before a retransmission never count against it (stock aiortc sends it 6 times).
    assert data_sends(wire)[20] == 3
    assert sum(count - 1 for count in data_sends(wire).values()) == 2
    assert isinstance(pair.sender, PacedSctpTransport)
    assert pair.sender.lost_retransmissions == 1


async def test_the_minimum_rto_is_250_ms() -> None:
    async with sctp_pair(Wire(delay=0.005)) as pair:
        await pair.transfer(PAYLOAD)
        rto = pair.sender._rto
    # A 10 ms RTT puts SRTT + 4 RTTVAR far below the floor; stock aiortc's floor is 1 s.
    assert rto == pytest.approx(RTO_MIN) or RTO_MIN < rto < 1.0


async def test_the_initial_window_is_ten_packets() -> None:
    wire = Wire(delay=0.05)
    async with sctp_pair(wire) as pair:
        pair.channel.send(PAYLOAD[:200_000])
        # Everything the sender puts on the wire before the first SACK comes back.
        while not any(d == "b>a" and kind == "SackChunk" for d, kind, _ in wire.log):
            await asyncio.sleep(0.001)
        first_flight = [tsn for d, kind, tsn in wire.log if d == "a>b" and kind == "DataChunk"]
    assert len(first_flight) == INITIAL_WINDOW_PACKETS


async def test_random_loss_does_not_shrink_the_window() -> None:
    # Every 20th chunk is lost once (5 %): each loss is repaired by fast retransmit.
    at_loss: list[tuple[int, int]] = []  # the window before and after each SACK that found a loss
    windows: list[int] = []
    wire = Wire(drop=lambda direction, tsn, nth: direction == "a>b" and tsn is not None
                and tsn % 20 == 7 and nth == 1)  # fmt: skip
    async with sctp_pair(wire) as pair:
        sender: Any = pair.sender
        t3 = spy_t3(sender)
        handle = sender._receive_sack_chunk

        async def on_sack(chunk: Any) -> None:
            before = sender._cwnd
            # Ours counts fast retransmissions; stock aiortc enters fast recovery.
            found = getattr(sender, "fast_retransmissions", 0)
            recovering = sender._fast_recovery_exit
            await handle(chunk)
            windows.append(sender._cwnd)
            if getattr(sender, "fast_retransmissions", 0) > found or (
                recovering is None and sender._fast_recovery_exit is not None
            ):
                at_loss.append((before, sender._cwnd))

        sender._receive_sack_chunk = on_sack
        await pair.transfer(PAYLOAD)
    assert sum(count - 1 for count in data_sends(wire).values()) >= 12
    assert t3 == []
    assert len(at_loss) >= 3
    assert all(after >= before for before, after in at_loss)
    assert min(windows) >= INITIAL_WINDOW_PACKETS * MTU


async def test_only_a_real_timeout_collapses_the_window_to_one_packet() -> None:
    # The last ten chunks are lost once: nothing after them can be acknowledged, so
    # only T3 finds them; then the window is one packet and the RTO doubles.
    wire = Wire(drop=lambda direction, tsn, nth: direction == "a>b" and tsn is not None
                and tsn >= 50 and nth == 1)  # fmt: skip
    async with sctp_pair(wire) as pair:
        sender: Any = pair.sender
        seen: list[tuple[float, int, float]] = []
        expire = sender._t3_expired

        def expired() -> None:
            rto = sender._rto
            expire()
            seen.append((rto, sender._cwnd, sender._rto))

        sender._t3_expired = expired
        await pair.transfer(PAYLOAD[: 60 * MTU])
    assert len(seen) >= 1
    rto, window, backed_off = seen[0]
    assert window == MTU
    assert backed_off == pytest.approx(2 * rto)
    assert all(count <= 2 for count in data_sends(wire).values())


async def test_upgrade_happens_once_and_only_before_start() -> None:
    async with sctp_pair(Wire()) as pair:
        assert is_upgraded(pair.sender)
        assert not upgrade(pair.sender)  # already upgraded
        assert not upgrade(pair.receiver)  # started: too late to switch
        assert not is_upgraded(pair.receiver)


async def test_an_untested_aiortc_keeps_the_stock_sender(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(aiortc, "__version__", "99.0.0")
    monkeypatch.setattr(sctp_sender, "_warned", False)
    sctp = RTCSctpTransport(FakeDtls("client", Wire(), "a>b"))  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="p2pchat.net.sctp_sender"):
        assert not upgrade(sctp)
    assert type(sctp) is RTCSctpTransport
    assert "99.0.0" in caplog.text and "aiortc's own sender" in caplog.text


async def test_rtclink_uses_the_faster_sender() -> None:
    link = RtcLink(IceSettings(), loopback=True)
    try:
        assert is_upgraded(link._pc.sctp)
    finally:
        await link.close()


async def test_the_environment_can_keep_the_stock_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sctp_sender.STOCK_SWITCH, "aiortc")
    sctp = RTCSctpTransport(FakeDtls("client", Wire(), "a>b"))  # type: ignore[arg-type]
    assert not upgrade(sctp)
    assert type(sctp) is RTCSctpTransport


async def test_small_messages_are_paced_by_their_bytes_not_as_full_packets() -> None:
    # 20,000 short texts once took minutes: each was charged a full packet of pacing.
    sctp: Any = RTCSctpTransport(SinkDtls())  # type: ignore[arg-type]
    assert upgrade(sctp)
    sctp._remote_port = 5000
    model = sctp._model
    model.btlbw, model.min_rtt, model.filled_pipe = 50_000.0, 0.01, True  # a slow path
    model._tokens = float(model.burst_bytes())  # one full burst available, no more
    for n in range(200):
        await sctp._send(1, 51, f"message {n}".encode())
    sent = len(sctp._sent_queue)
    sctp._t3_cancel()
    if sctp._pace_handle is not None:
        sctp._pace_handle.cancel()
    # A burst is max(4 packets, 5 ms) of bytes: about 90 such chunks, not 4.
    assert sent >= 50
