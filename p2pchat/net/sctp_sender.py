"""A faster sender for aiortc's SCTP: loss recovery, lower minimum RTO, IW10, pacing.

Owns: what aiortc's ``RTCSctpTransport`` sends when, and what it retransmits, and
how often its receiving side acknowledges. The rest of the receiver, the chunk
formats and the association state machine stay aiortc's, so the wire format is
standard SCTP (RFC 9260) and any WebRTC peer still works. The window and the
pacing rate come from ``sctp_model.RateModel``.

``upgrade(sctp)`` switches one transport, before it starts, to ``PacedSctpTransport``
(RtcLink does so right after creating its channels). It is written against the
internals of the aiortc versions in ``TESTED_AIORTC``; on any other version it logs
a warning and leaves the stock sender in place; so does the environment variable
``P2PCHAT_SCTP_SENDER=aiortc`` (for A/B benchmarks). See docs/sctp.md.

Rules, each tested in tests/net/test_sctp_sender.py:
- loss is detected in transmission order: a chunk is lost once three SACKs have
  newly acknowledged chunks sent after its latest transmission (RFC 4960's three
  miss indications, counted as RFC 8985 RACK orders them), so a lost retransmission
  is found like any other loss instead of waiting for T3;
- minimum RTO 250 ms (RFC 9260 says 1 s): above the 200 ms delayed-SACK timer of
  usrsctp and dcSCTP peers, beside Linux TCP's 200 ms and dcSCTP's 220-400 ms;
  T3 backs off exponentially; the initial RTO stays aiortc's 3 s, as it also times
  the handshake (T1) and the first SACK replaces it;
- an initial window of 10 packets (RFC 6928); random loss leaves the window alone
  and only a T3 expiry drops it to one packet;
- paced sending, so a window never leaves as one burst to overflow a queue;
- as a receiver, a SACK for every second packet carrying DATA (RFC 9260 section
  6.2; aiortc sends one per packet), at once when TSNs are missing or repeated
  (section 6.7, so the peer's loss recovery keeps its pace), and at the latest
  ``sctp_receive.SACK_DELAY`` after an unanswered packet. Half the packets going back, half the
  SACKs the peer's sender processes: on loopback, where both ends are CPU-bound,
  about a third more throughput (scripts/bench.py, two processes);
- work per SACK and per received packet that does not grow with the data held
  behind a hole (the TSN books and reassembly in ``sctp_receive``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from typing import Any, Final

import aiortc
from aiortc import rtcsctptransport as stock
from aiortc.rtcsctptransport import RTCSctpTransport, SackChunk
from aiortc.utils import uint32_gt, uint32_gte

from p2pchat.net import sctp_receive
from p2pchat.net.sctp_model import RateModel

logger = logging.getLogger(__name__)

TESTED_AIORTC: Final = frozenset({"1.16.0"})
STOCK_SWITCH: Final = "P2PCHAT_SCTP_SENDER"  # "aiortc": keep aiortc's own sender
RTO_MIN: Final = 0.25
RTO_MAX: Final = 60.0
MISS_THRESHOLD: Final = 3
MTU: Final = stock.USERDATA_MAX_LENGTH
CHUNK_OVERHEAD: Final = stock.SCTP_DATA_CHUNK_HEADER_LENGTH + stock.SCTP_COMMON_HEADER_LENGTH
_NEEDED: Final = (
    "_sent_queue", "_outbound_queue", "_flight_size_increase", "_flight_size_decrease",
    "_maybe_abandon", "_update_advanced_peer_ack_point", "_data_channel_flush",
    "_t3_restart", "_t3_start", "_t3_cancel", "_send_chunk", "_data_channel_queue",
    "_send_sack", "_sack_misordered", "_sack_duplicates", "_mark_received",
    "_receive_data_chunk", "_get_inbound_stream", "_reset_deferred_streams",
)  # fmt: skip


class PacedSctpTransport(RTCSctpTransport):
    """``RTCSctpTransport`` with the sender described in the module docstring."""

    def __init__(self, transport: Any, port: int = 5000) -> None:
        super().__init__(transport, port)
        self._sender_init()

    def _sender_init(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer_loop = loop
        self._clock = loop.time
        self._model = RateModel(MTU, self._clock())
        self._cwnd = self._model.cwnd
        self._peer_rwnd: int | None = None
        self._xmit_counter = 0
        self._resend_pending = False  # some chunk may be marked _retransmit
        self._pace_handle: asyncio.TimerHandle | None = None
        self._pace_task: asyncio.Future[None] | None = None
        self._sack_task: asyncio.Future[None] | None = None
        self._sack_owed = False  # a packet with DATA is not acknowledged yet
        self._sack_handle: asyncio.TimerHandle | None = None
        self._sacked_blocks: list[tuple[int, int]] = []  # (first TSN, length - 1)
        self._holes: list[tuple[int, int]] = []  # sent-queue index ranges [lo, hi)
        self._tail = 0  # sent-queue index past the last gap block
        self._gap_blocks: list[list[int]] | None = None  # see sctp_receive
        # counters for tests and benchmarks
        self.t3_expirations = 0
        self.fast_retransmissions = 0
        self.lost_retransmissions = 0
        self.sends_after_close = 0  # packets dropped because the DTLS link had closed

    # ------------------------------------------------------------------ acknowledgements

    async def _receive_sack_chunk(self, chunk: SackChunk) -> None:
        if uint32_gt(self._last_sacked_tsn, chunk.cumulative_tsn):
            return
        now = self._clock()
        self._last_sacked_tsn = chunk.cumulative_tsn
        self._peer_rwnd = chunk.advertised_rwnd
        acked: list[Any] = []
        cum_advanced = False

        while self._sent_queue and uint32_gte(chunk.cumulative_tsn, self._sent_queue[0].tsn):
            schunk: Any = self._sent_queue.popleft()
            cum_advanced = True
            if not schunk._acked:
                acked.append(schunk)
            self._flight_size_decrease(schunk)
        acked.extend(self._gap_acked(chunk))  # also finds the holes, even when none

        if acked:
            self._on_acked(now, acked)

        if not self._sent_queue:
            self._t3_cancel()
        elif cum_advanced:
            self._t3_restart()

        self._update_advanced_peer_ack_point()
        await self._data_channel_flush()
        await self._transmit()

    def _gap_acked(self, chunk: SackChunk) -> list[Any]:
        """Chunks newly acknowledged by the gap blocks.

        Only TSNs that the last SACK's blocks did not already cover are visited, found
        by position (the sent queue holds consecutive TSNs): a SACK costs work for
        what it newly acknowledges, not for all the data behind a hole. A peer's
        blocks are sorted first and may overlap (``tests/fuzz``)."""
        acked: list[Any] = []
        queue = self._sent_queue
        self._holes, self._tail = [], 0
        if not queue:
            return acked
        cum = chunk.cumulative_tsn
        shift = (queue[0].tsn - cum) % stock.SCTP_TSN_MODULO  # offset of queue[0]: 1
        covered = self._covered_offsets(cum)
        blocks = sorted(chunk.gaps)
        self._sacked_blocks = [((cum + a) % stock.SCTP_TSN_MODULO, b - a) for a, b in blocks]
        for start, end in blocks:
            for lo, hi in sctp_receive.uncovered(start, end, covered):
                for index in range(max(lo - shift, 0), min(hi - shift + 1, len(queue))):
                    schunk: Any = queue[index]
                    if not schunk._acked:
                        schunk._acked = True
                        acked.append(schunk)
                        self._flight_size_decrease(schunk)
        # Queue indexes the blocks leave out, for _detect_losses.
        index = 0
        for start, end in blocks:
            if start - shift > index:
                self._holes.append((index, start - shift))
            index = max(index, end - shift + 1)
        self._tail = index
        return acked

    def _covered_offsets(self, cum: int) -> list[tuple[int, int]]:
        """The last SACK's gap blocks as offsets from ``cum``, those still above it."""
        covered = []
        for first, length in self._sacked_blocks:
            lo = (first - cum) % stock.SCTP_TSN_MODULO
            if 0 < lo < 2**31:
                covered.append((lo, lo + length))
            elif 0 < (lo + length) % stock.SCTP_TSN_MODULO < 2**31:
                covered.append((1, (lo + length) % stock.SCTP_TSN_MODULO))
        return covered

    def _on_acked(self, now: float, acked: list[Any]) -> None:
        newest = max(acked, key=lambda c: c._xmit)
        self._detect_losses(newest._xmit)
        rtt: float | None = None
        if newest._sent_count == 1:  # Karn: a retransmitted chunk's RTT is ambiguous
            rtt = now - newest._stamp.sent_time
            self._update_rto(rtt)
        self._model.on_ack(
            now, sum(c._book_size for c in acked), newest._stamp, rtt, self._flight_size
        )
        self._cwnd = self._model.effective_cwnd

    def _candidates(self) -> Iterator[Any]:
        """Chunks a SACK leaves unacknowledged, in TSN order: the holes between its gap
        blocks, then everything above them (not the acknowledged data in between)."""
        queue = self._sent_queue
        for lo, hi in self._holes:
            for index in range(lo, min(hi, len(queue))):
                yield queue[index]
        for index in range(self._tail, len(queue)):
            yield queue[index]

    def _detect_losses(self, newest_xmit: int) -> None:
        schunk: Any
        for schunk in self._candidates():
            if schunk._sent_count == 1 and schunk._xmit > newest_xmit:
                break  # later TSNs were first sent even later
            if schunk._acked or schunk._retransmit or schunk._abandoned:
                continue
            if schunk._xmit > newest_xmit:
                continue  # retransmitted after the newest acknowledged chunk left
            schunk._misses += 1
            if schunk._misses < MISS_THRESHOLD:
                continue
            schunk._misses = 0
            self.fast_retransmissions += 1
            if schunk._sent_count > 1:
                self.lost_retransmissions += 1
            if not self._maybe_abandon(schunk):
                schunk._retransmit = True
                self._resend_pending = True
            self._flight_size_decrease(schunk)

    async def _send_chunk(self, chunk: Any) -> None:
        """aiortc's, but a packet for a link that has just closed is dropped, not raised:
        aiortc (and our delayed SACK and pacing) send from tasks nobody awaits, where the
        error was only "never retrieved" on stderr. The close is reported by DTLS state."""
        try:
            await super()._send_chunk(chunk)
        except ConnectionError:
            self.sends_after_close += 1

    # ------------------------------------------------------------------ receiving

    async def _send_sack(self) -> None:
        """aiortc calls this after each packet with DATA: answer every second one."""
        await sctp_receive.send_sack(self)

    def _sack_due(self) -> None:
        sctp_receive.sack_due(self)

    async def _sack_now(self) -> None:
        await sctp_receive.sack_now(self)

    def _mark_received(self, tsn: int) -> bool:
        return sctp_receive.mark_received(self, tsn)

    async def _receive_data_chunk(self, chunk: Any) -> None:
        await sctp_receive.receive_data_chunk(self, chunk)

    async def _receive_forward_tsn_chunk(self, chunk: Any) -> None:
        await super()._receive_forward_tsn_chunk(chunk)
        sctp_receive.after_forward_tsn(self)

    def _update_rto(self, R: float) -> None:
        super()._update_rto(R)
        assert self._srtt is not None and self._rttvar is not None
        self._rto = max(RTO_MIN, min(self._srtt + 4 * self._rttvar, RTO_MAX))

    def _t3_expired(self) -> None:
        self.t3_expirations += 1
        self._resend_pending = True
        super()._t3_expired()  # marks everything for retransmission
        self._model.on_timeout()
        self._cwnd = self._model.cwnd
        self._rto = min(self._rto * 2, RTO_MAX)  # RFC 9260 section 6.3.3 E2

    # ------------------------------------------------------------------ sending

    def _send_window(self) -> int:
        window = self._model.effective_cwnd
        if self._peer_rwnd is not None:
            # A zero window still lets one chunk probe it (RFC 9260 section 6.1 A).
            window = min(window, max(self._peer_rwnd, 1))
        return window

    def _stamp(self, chunk: Any, now: float) -> None:
        chunk._stamp = self._model.on_send(now, self._flight_size)
        chunk._sent_time = time.time()  # what aiortc itself reads
        self._xmit_counter += 1
        chunk._xmit = self._xmit_counter

    def _paced(self, now: float, chunk: Any) -> bool:
        # Charged by the bytes the chunk carries, as the bandwidth is measured: charging
        # a full packet for a 20-byte text message would pace small messages to a crawl.
        wait = self._model.pacing_wait(now, chunk._book_size + CHUNK_OVERHEAD)
        if wait <= 0:
            return True
        if self._pace_handle is None:
            self._pace_handle = self._timer_loop.call_later(wait, self._pace_expired)
        return False

    def _pace_expired(self) -> None:
        self._pace_handle = None
        self._pace_task = asyncio.ensure_future(self._pace_send())

    async def _pace_send(self) -> None:
        if self._association_state == self.State.ESTABLISHED:
            await self._data_channel_flush()
            await self._transmit()

    async def _transmit(self) -> None:
        if self._forward_tsn_chunk is not None:
            await self._send_chunk(self._forward_tsn_chunk)
            self._forward_tsn_chunk = None
            if not self._t3_handle:
                self._t3_start()
        if self._pace_handle is not None:
            return  # the pacing timer sends next
        now = self._clock()
        window = self._send_window()

        if self._flight_size >= window:
            return  # nothing may leave; above all, no walk of the sent queue per SACK
        resend = list(self._sent_queue) if self._resend_pending else []
        self._resend_pending = False
        for chunk in resend:
            if not chunk._retransmit:
                continue
            if self._flight_size >= window or not self._paced(now, chunk):
                self._resend_pending = True
                return
            self._stamp(chunk, now)
            self._flight_size_increase(chunk)
            chunk._misses = 0
            chunk._retransmit = False
            chunk._sent_count += 1
            await self._send_chunk(chunk)
            if self._sent_queue and chunk is self._sent_queue[0]:
                self._t3_restart()  # the earliest outstanding TSN is resent

        while self._outbound_queue and self._flight_size < window:
            if not self._paced(now, self._outbound_queue[0]):
                return
            new: Any = self._outbound_queue.popleft()
            self._sent_queue.append(new)
            self._stamp(new, now)
            self._flight_size_increase(new)
            new._sent_count += 1
            await self._send_chunk(new)
            if not self._t3_handle:
                self._t3_start()
        if not self._outbound_queue and not self._data_channel_queue:
            self._model.mark_app_limited(self._flight_size)

    def _set_state(self, state: RTCSctpTransport.State) -> None:
        if state == self.State.CLOSED and self._pace_handle is not None:
            self._pace_handle.cancel()
            self._pace_handle = None
        super()._set_state(state)


_warned = False


def compatible() -> bool:
    """Whether the installed aiortc is one this sender was written and tested against."""
    return aiortc.__version__ in TESTED_AIORTC


def upgrade(sctp: RTCSctpTransport | None) -> bool:
    """Switch ``sctp`` (not started yet) to ``PacedSctpTransport``; False leaves it stock."""
    global _warned
    if sctp is None or type(sctp) is not RTCSctpTransport or sctp.state != "new":
        return False
    if os.environ.get(STOCK_SWITCH) == "aiortc":  # A/B benchmarks; a way back if needed
        return False
    if not compatible() or not all(hasattr(sctp, name) for name in _NEEDED):
        if not _warned:
            _warned = True
            logger.warning(
                "aiortc %s is not a version the faster SCTP sender was tested with "
                "(%s); using aiortc's own sender",
                aiortc.__version__,
                ", ".join(sorted(TESTED_AIORTC)),
            )
        return False
    sctp.__class__ = PacedSctpTransport
    assert isinstance(sctp, PacedSctpTransport)
    sctp._sender_init()
    sctp_receive.deepen_socket_buffers()  # before the ICE sockets open (gathering)
    return True


def is_upgraded(sctp: object) -> bool:
    return isinstance(sctp, PacedSctpTransport)
