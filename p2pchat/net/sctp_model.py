"""The congestion model behind the SCTP sender: delivery rate, pacing and the window.

Owns no I/O and no aiortc types, so every rule here is tested with a fake clock. It
follows BBR v1 (Cardwell et al., "BBR: Congestion-Based Congestion Control", ACM
Queue 2016, and draft-cardwell-iccrg-bbr-congestion-control-00), simplified:

- every acknowledgement yields a delivery-rate sample; the bottleneck bandwidth is
  the largest sample of the last ``BW_WINDOW_ROUNDS`` round trips and the path's
  propagation delay the smallest RTT of the last ``MIN_RTT_WINDOW`` seconds;
- STARTUP doubles the rate each round until the bandwidth stops growing (three
  rounds under +25 %), DRAIN empties the queue that built, PROBE_BW then cycles the
  pacing gain through 1.25, 0.75 and six rounds of 1.0, and PROBE_RTT (every 10 s)
  shrinks the window to four packets for 200 ms so a standing queue cannot pass for
  path delay;
- the window is ``cwnd_gain`` x bandwidth-delay product, so at most about one BDP
  waits in a bottleneck queue; random loss does not shrink it (that is what makes a
  lossy Wi-Fi or mobile link fast) and only a real retransmission timeout (T3) drops
  it to one packet, from where it grows back by what is acknowledged;
- sending is paced by a token bucket at ``pacing_gain`` x bandwidth, with bursts of
  at most ``max(4 packets, 5 ms of data)``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Final

INITIAL_WINDOW_PACKETS: Final = 10  # RFC 6928
MIN_WINDOW_PACKETS: Final = 4  # dcSCTP's cwnd_mtus_min, BBR's minimum
HIGH_GAIN: Final = 2.885  # 2/ln(2): doubles the delivery rate each round
CWND_GAIN: Final = 2.0
PROBE_BW_GAINS: Final = (1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
BW_WINDOW_ROUNDS: Final = 10
MIN_RTT_WINDOW: Final = 10.0
PROBE_RTT_DURATION: Final = 0.2
FULL_BW_GROWTH: Final = 1.25
FULL_BW_ROUNDS: Final = 3
BURST_PACKETS: Final = 4  # RFC 9260 Max.Burst
# asyncio timers are about 1 ms coarse and fire late on a busy machine: a 5 ms quantum
# keeps the pacing rate when they do (the kernel's fq paces per packet with hrtimers).
BURST_TIME: Final = 0.005
NOMINAL_RTT: Final = 0.001  # before any RTT sample, as BBR


class Mode(Enum):
    STARTUP = "startup"
    DRAIN = "drain"
    PROBE_BW = "probe_bw"
    PROBE_RTT = "probe_rtt"


@dataclass(slots=True)
class SendStamp:
    """What the model knew when a packet left: the basis of its rate sample."""

    sent_time: float
    delivered: int
    delivered_time: float
    first_sent_time: float
    app_limited: bool


class RateModel:
    """Bandwidth and RTT estimates, the BBR state machine, the window and the pacer."""

    def __init__(self, mtu: int, now: float, rng: random.Random | None = None) -> None:
        self.mtu = mtu
        self.cwnd = INITIAL_WINDOW_PACKETS * mtu
        self.mode = Mode.STARTUP
        self.pacing_gain = HIGH_GAIN
        self.cwnd_gain = HIGH_GAIN
        self._rng = rng or random.Random()
        # delivery accounting (bytes)
        self.delivered = 0
        self._delivered_time = now
        self._first_sent_time = now
        self._app_limited_until = 0
        # estimates
        self._bw_samples: deque[tuple[int, float]] = deque()
        self.btlbw = 0.0
        self.min_rtt: float | None = None
        self._min_rtt_stamp = now
        # rounds
        self.round_count = 0
        self._next_round_delivered = 0
        self._full_bw = 0.0
        self._full_bw_rounds = 0
        self.filled_pipe = False
        self._cycle_index = 0
        self._cycle_stamp = now
        self._probe_rtt_done: float | None = None
        self._probe_rtt_round_done = False
        self._prior_mode = Mode.PROBE_BW
        # pacing
        self._tokens = float(self.burst_bytes())
        self._token_time = now

    # ----------------------------------------------------------------- estimates

    @property
    def bdp(self) -> float | None:
        if self.btlbw <= 0 or self.min_rtt is None:
            return None
        return self.btlbw * self.min_rtt

    @property
    def pacing_rate(self) -> float:
        """Bytes per second."""
        if self.btlbw <= 0:
            return HIGH_GAIN * self.cwnd / (self.min_rtt or NOMINAL_RTT)
        return self.pacing_gain * self.btlbw

    def target_cwnd(self) -> int:
        bdp = self.bdp
        if bdp is None:
            return INITIAL_WINDOW_PACKETS * self.mtu
        # Three extra packets, as BBR, keep the pipe full across delayed SACKs.
        target = int(self.cwnd_gain * bdp) + 3 * self.mtu
        return max(target, MIN_WINDOW_PACKETS * self.mtu)

    @property
    def effective_cwnd(self) -> int:
        if self.mode is Mode.PROBE_RTT:
            return min(self.cwnd, MIN_WINDOW_PACKETS * self.mtu)
        return self.cwnd

    # ----------------------------------------------------------------- sending

    def on_send(self, now: float, inflight: int) -> SendStamp:
        """Stamp a packet (new or retransmitted) as it leaves; ``inflight`` before it."""
        if inflight == 0:
            # After idle, measure from now rather than across the silence.
            self._first_sent_time = now
            self._delivered_time = now
        return SendStamp(
            sent_time=now,
            delivered=self.delivered,
            delivered_time=self._delivered_time,
            first_sent_time=self._first_sent_time,
            app_limited=self._app_limited_until > 0,
        )

    def mark_app_limited(self, inflight: int) -> None:
        """The sender ran out of data with window to spare: its samples understate the path."""
        self._app_limited_until = max(self.delivered + inflight, 1)

    def pacing_wait(self, now: float, size: int) -> float:
        """0 when ``size`` bytes may leave now (they are charged), else seconds to wait."""
        rate = self.pacing_rate
        self._tokens = min(
            self._tokens + (now - self._token_time) * rate, float(self.burst_bytes())
        )
        self._token_time = now
        if self._tokens > -1.0:  # within a byte: rounding, not debt (else a timer of 0 s)
            self._tokens -= size
            return 0.0
        return -self._tokens / rate

    def burst_bytes(self) -> int:
        return max(BURST_PACKETS * self.mtu, int(self.pacing_rate * BURST_TIME))

    # ----------------------------------------------------------------- acknowledgements

    def on_ack(
        self,
        now: float,
        acked_bytes: int,
        newest: SendStamp | None,
        rtt: float | None,
        inflight: int,
    ) -> None:
        """One SACK: ``acked_bytes`` newly delivered, ``newest`` the stamp of the most
        recently sent chunk among them, ``rtt`` a sample (None when ambiguous),
        ``inflight`` the bytes still outstanding afterwards."""
        if acked_bytes <= 0:
            return
        self.delivered += acked_bytes
        self._delivered_time = now
        if self._app_limited_until and self.delivered > self._app_limited_until:
            self._app_limited_until = 0
        round_start = False
        if newest is not None:
            self._first_sent_time = newest.sent_time
            if newest.delivered >= self._next_round_delivered:
                self._next_round_delivered = self.delivered
                self.round_count += 1
                round_start = True
                self._probe_rtt_round_done = True
            self._sample_bandwidth(now, newest)
        if rtt is not None and rtt > 0:
            self._sample_rtt(now, rtt)
        if round_start and not self.filled_pipe and not (newest and newest.app_limited):
            self._check_full_pipe()
        self._update_mode(now, inflight)
        self._update_cwnd(acked_bytes)

    def on_timeout(self) -> None:
        """A real retransmission timeout: one packet, then grow back by what is acked."""
        self.cwnd = self.mtu

    def _sample_bandwidth(self, now: float, stamp: SendStamp) -> None:
        send_elapsed = stamp.sent_time - stamp.first_sent_time
        ack_elapsed = now - stamp.delivered_time
        interval = max(send_elapsed, ack_elapsed)
        if interval <= 0 or (self.min_rtt is not None and interval < self.min_rtt):
            return  # too short to be a rate (BBR discards these too)
        rate = (self.delivered - stamp.delivered) / interval
        if stamp.app_limited and rate < self.btlbw:
            return
        # One entry per round (its best sample), so the max runs over at most 10.
        samples = self._bw_samples
        if samples and samples[-1][0] == self.round_count:
            if rate <= samples[-1][1]:
                return
            samples.pop()
        samples.append((self.round_count, rate))
        while samples[0][0] <= self.round_count - BW_WINDOW_ROUNDS:
            samples.popleft()
        self.btlbw = max(sample for _, sample in samples)

    def _sample_rtt(self, now: float, rtt: float) -> None:
        expired = now - self._min_rtt_stamp > MIN_RTT_WINDOW
        if self.min_rtt is None or rtt <= self.min_rtt or expired:
            self.min_rtt = rtt
            self._min_rtt_stamp = now
        if expired and self.mode is not Mode.PROBE_RTT and self.filled_pipe:
            self._prior_mode = self.mode
            self._set_mode(Mode.PROBE_RTT, 1.0, 1.0)
            self._probe_rtt_done = None

    def _check_full_pipe(self) -> None:
        if self.btlbw >= self._full_bw * FULL_BW_GROWTH:
            self._full_bw = self.btlbw
            self._full_bw_rounds = 0
            return
        self._full_bw_rounds += 1
        if self._full_bw_rounds >= FULL_BW_ROUNDS:
            self.filled_pipe = True

    def _set_mode(self, mode: Mode, pacing_gain: float, cwnd_gain: float) -> None:
        self.mode = mode
        self.pacing_gain = pacing_gain
        self.cwnd_gain = cwnd_gain

    def _update_mode(self, now: float, inflight: int) -> None:
        bdp = self.bdp or 0.0
        if self.mode is Mode.STARTUP and self.filled_pipe:
            self._set_mode(Mode.DRAIN, 1 / HIGH_GAIN, HIGH_GAIN)
        if self.mode is Mode.DRAIN and inflight <= bdp:
            self._enter_probe_bw(now)
        elif self.mode is Mode.PROBE_BW:
            self._advance_cycle(now, inflight, bdp)
        elif self.mode is Mode.PROBE_RTT:
            if self._probe_rtt_done is None:
                if inflight <= MIN_WINDOW_PACKETS * self.mtu:
                    self._probe_rtt_done = now + PROBE_RTT_DURATION
                    self._probe_rtt_round_done = False
            elif now >= self._probe_rtt_done and self._probe_rtt_round_done:
                self._min_rtt_stamp = now
                if self.filled_pipe:
                    self._enter_probe_bw(now)
                else:
                    self._set_mode(Mode.STARTUP, HIGH_GAIN, HIGH_GAIN)

    def _enter_probe_bw(self, now: float) -> None:
        # Start anywhere but the draining phase, at random so flows do not synchronise.
        self._cycle_index = self._rng.choice([0, *range(2, len(PROBE_BW_GAINS))])
        self._cycle_stamp = now
        self._set_mode(Mode.PROBE_BW, PROBE_BW_GAINS[self._cycle_index], CWND_GAIN)

    def _advance_cycle(self, now: float, inflight: int, bdp: float) -> None:
        elapsed = now - self._cycle_stamp > (self.min_rtt or NOMINAL_RTT)
        gain = self.pacing_gain
        if gain > 1:
            advance = elapsed and inflight >= gain * bdp
        elif gain < 1:
            advance = elapsed or inflight <= bdp
        else:
            advance = elapsed
        if advance:
            self._cycle_index = (self._cycle_index + 1) % len(PROBE_BW_GAINS)
            self._cycle_stamp = now
            self.pacing_gain = PROBE_BW_GAINS[self._cycle_index]

    def _update_cwnd(self, acked_bytes: int) -> None:
        target = self.target_cwnd()
        if self.filled_pipe:
            self.cwnd = min(self.cwnd + acked_bytes, target)
        elif self.cwnd < target or self.delivered < INITIAL_WINDOW_PACKETS * self.mtu:
            self.cwnd += acked_bytes
        self.cwnd = max(self.cwnd, MIN_WINDOW_PACKETS * self.mtu)
