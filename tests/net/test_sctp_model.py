"""The sender's congestion model on a simulated bottleneck, with a fake clock.

``simulate`` is a small discrete-event model of a path: a FIFO bottleneck of
``rate`` bytes/s, then ``rtt`` of propagation, acknowledging every packet. The
flows use ``RateModel`` exactly as the transport does (stamp on send, pace, ack).
"""

from __future__ import annotations

import heapq
import random

import pytest

from p2pchat.net.sctp_model import (
    BURST_PACKETS,
    BURST_TIME,
    INITIAL_WINDOW_PACKETS,
    Mode,
    RateModel,
)

MTU = 1200


def simulate(
    rate: float, rtt: float, flows: int, duration: float, starts: tuple[float, ...] = ()
) -> tuple[list[RateModel], list[int], int]:
    """Run ``flows`` bulk senders; returns their models, bytes delivered, peak queue (bytes)."""
    models = [RateModel(MTU, 0.0, random.Random(i)) for i in range(flows)]
    inflight = [0] * flows
    delivered = [0] * flows
    start = list(starts) + [0.0] * (flows - len(starts))
    events: list[tuple[float, int, str, int, object]] = []
    seq = 0
    link_free = 0.0
    queue_bytes = 0
    peak_queue = 0
    waking = [False] * flows

    def push(at: float, kind: str, flow: int, data: object = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, flow, data))

    def try_send(now: float, flow: int) -> None:
        nonlocal link_free, queue_bytes, peak_queue
        model = models[flow]
        while inflight[flow] < model.effective_cwnd:
            wait = model.pacing_wait(now, MTU)
            if wait > 0:
                if not waking[flow]:
                    waking[flow] = True
                    push(now + wait, "wake", flow)
                return
            stamp = model.on_send(now, inflight[flow])
            inflight[flow] += MTU
            depart = max(now, link_free) + MTU / rate
            link_free = depart
            queue_bytes += MTU
            peak_queue = max(peak_queue, queue_bytes - MTU)
            push(depart, "depart", flow)
            push(depart + rtt, "ack", flow, stamp)

    for flow in range(flows):
        push(start[flow], "wake", flow)
    while events:
        now, _, kind, flow, data = heapq.heappop(events)
        if now > duration:
            break
        if kind == "depart":
            queue_bytes -= MTU
            continue
        if kind == "wake":
            waking[flow] = False
        else:
            inflight[flow] -= MTU
            delivered[flow] += MTU
            stamp = data
            models[flow].on_ack(now, MTU, stamp, now - stamp.sent_time, inflight[flow])  # type: ignore[attr-defined]
        try_send(now, flow)
    return models, delivered, peak_queue


def test_pacing_spaces_packets_at_the_measured_rate() -> None:
    rate, rtt = 1_000_000.0, 0.05
    (model,), _, _ = simulate(rate, rtt, 1, 5.0)
    assert model.btlbw == pytest.approx(rate, rel=0.05)
    # A full window offered at one instant: one burst leaves, the rest waits its turn.
    now = 100.0
    sent = 0
    while model.pacing_wait(now, MTU) == 0:
        sent += 1
    assert sent <= max(BURST_PACKETS, int(model.pacing_rate * BURST_TIME / MTU) + 1) + 1
    assert model.pacing_wait(now, MTU) == pytest.approx(MTU / model.pacing_rate, rel=0.5)


def test_the_window_settles_near_two_bdp_and_the_queue_stays_bounded() -> None:
    rate, rtt = 2_000_000.0, 0.1
    (model,), delivered, peak_queue = simulate(rate, rtt, 1, 12.0)
    assert model.mode in (Mode.PROBE_BW, Mode.PROBE_RTT)
    assert model.min_rtt == pytest.approx(rtt, rel=0.05)
    bdp = rate * rtt
    assert model.cwnd <= 2.1 * bdp + 3 * MTU
    assert delivered[0] >= 0.8 * rate * 12.0
    # STARTUP overshoots by design (at most about 2 BDP), PROBE_BW keeps it there.
    assert peak_queue <= 2.2 * bdp


def test_two_flows_on_one_bottleneck_both_get_a_fair_share() -> None:
    rate, rtt = 1_000_000.0, 0.05
    _, delivered, _ = simulate(rate, rtt, 2, 30.0, starts=(0.0, 2.0))
    total = sum(delivered)
    assert total >= 0.8 * rate * 30.0
    assert min(delivered) >= 0.3 * total


def test_a_new_model_allows_the_initial_window_at_once() -> None:
    model = RateModel(MTU, 0.0)
    assert model.cwnd == INITIAL_WINDOW_PACKETS * MTU
    assert all(model.pacing_wait(0.0, MTU) == 0 for _ in range(INITIAL_WINDOW_PACKETS))


def test_a_timeout_leaves_one_packet_then_the_window_grows_back() -> None:
    (model,), _, _ = simulate(1_000_000.0, 0.05, 1, 3.0)
    before = model.cwnd
    model.on_timeout()
    assert model.cwnd == MTU
    stamp = model.on_send(10.0, 0)
    model.on_ack(10.05, MTU, stamp, 0.05, 0)
    assert MTU < model.cwnd <= before
