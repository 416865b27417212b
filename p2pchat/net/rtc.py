"""The WebRTC transport edge: one RTCPeerConnection with two pre-negotiated data channels.

Owns the RtcLink: send-side backpressure, the "direct or relay" answer, and closing
without losing queued data. Its pieces without aiortc state live beside it: the
receive queue in ``rtc_inbox``, description checks in ``rtc_sdp``, what is read from
aiortc's internals in ``rtc_state``; the ICE configuration (always explicit, so aiortc
never falls back to Google's STUN server) and TURN REST credentials in ``ice``, and
loopback-only gathering in ``loopback``. Public names are re-exported here.

What travels here is opaque ciphertext; SDPs are never logged (they carry private
IP addresses). See DESIGN.md sections 4 and 7.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final, Literal

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from p2pchat.core.errors import (
    LocalProtocolError,
    P2PChatError,
    PeerLost,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.core.keys import Channel
from p2pchat.net.ice import (
    TURN_REST_TTL_SECONDS,
    TURN_REST_USER,
    IceSettings,
    check_loopback_servers,
    ice_configuration,
    turn_rest_credentials,
)
from p2pchat.net.link import ConnectionKind, LinkClosing
from p2pchat.net.loopback import (
    install_host_address_hook,
    keep_loopback_candidates,
    link_gathering,
    loopback_only,
)
from p2pchat.net.rtc_inbox import RECV_MESSAGE_OVERHEAD, Inbox
from p2pchat.net.rtc_sdp import (
    MAX_SDP_CHARS,
    UNPARSABLE,
    NoDirectPath,
    check_description,
    count_candidates,
    no_address_error,
)
from p2pchat.net.rtc_state import nominated_kind, sctp_idle
from p2pchat.net.sctp_sender import upgrade as upgrade_sctp_sender

logger = logging.getLogger(__name__)


#: At most this many bytes wait in the data channels' send queues. DESIGN.md section 4
#: allows 256 KiB; scripts/bench.py measured the same throughput at 128 KiB with half
#: the text latency during a transfer (all channels share aiortc's one FIFO queue).
SEND_BUFFER_LIMIT: Final = 128 * 1024
#: Bytes received but not yet taken by ``recv()`` before the peer counts as flooding.
DEFAULT_RECV_BUFFER_LIMIT: Final = 16 * 1024 * 1024
# aiortc's RTCPeerConnection.close() can stall (aiortc issue #283): an exit never
# waits on it longer than this; the sockets go with the process anyway.
PC_CLOSE_TIMEOUT: Final = 5.0

_CHANNEL_LABELS: Final = {Channel.CONTROL: "control", Channel.DATA: "data"}
# Each channel fires "bufferedamountlow" when it drops to this. Their sum stays below
# the limit so that a blocked sender always has a channel left that will cross its
# threshold (see RtcLink.send).
_LOW_THRESHOLD: Final = SEND_BUFFER_LIMIT // (2 * len(_CHANNEL_LABELS))
_SUM_OF_THRESHOLDS: Final = _LOW_THRESHOLD * len(_CHANNEL_LABELS)


class RtcLink(LinkClosing):
    """A peer connection with the CONTROL and DATA channels (negotiated, reliable, ordered).

    Sending waits while more than ``SEND_BUFFER_LIMIT`` bytes are queued across the
    link. Received messages wait in one queue for ``recv()``, bounded by bytes
    (``recv_buffer_limit``, see ``rtc_inbox``): a peer that gets that far ahead of
    us is treated as hostile and the link closes with a ``RemoteProtocolError``.
    """

    def __init__(
        self,
        ice: IceSettings | None = None,
        *,
        loopback: bool = False,
        recv_buffer_limit: int = DEFAULT_RECV_BUFFER_LIMIT,
    ) -> None:
        self._ice = ice or IceSettings()
        self._configuration = ice_configuration(self._ice)
        self._loopback = loopback
        if loopback:
            install_host_address_hook()
            check_loopback_servers(self._configuration)
        self._inbox = Inbox(recv_buffer_limit)
        self._buffer_low = asyncio.Event()
        self._opened = asyncio.Event()
        super().__init__()
        self._pc_closed: asyncio.Future[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.peak_buffered_amount = 0

        self._pc = RTCPeerConnection(configuration=self._configuration)
        self._pc.on("connectionstatechange", self._on_connection_state)
        self._channels: dict[Channel, RTCDataChannel] = {}
        for channel, label in _CHANNEL_LABELS.items():
            data_channel = self._pc.createDataChannel(
                label, negotiated=True, id=int(channel), ordered=True
            )
            data_channel.bufferedAmountLowThreshold = _LOW_THRESHOLD
            data_channel.on("open", self._on_channel_open)
            data_channel.on("close", self._on_channel_close)
            data_channel.on("bufferedamountlow", self._buffer_low.set)
            data_channel.on("message", self._message_handler(channel))
            self._channels[channel] = data_channel
        upgrade_sctp_sender(self._pc.sctp)  # before start: see p2pchat/net/sctp_sender.py

    @property
    def configuration(self) -> RTCConfiguration:
        """The explicit ICE configuration this link was built with."""
        return self._configuration

    async def create_offer(self) -> str:
        """Gather candidates and return the complete offer SDP (no trickle ICE)."""
        try:
            offer = await self._pc.createOffer()
            await self._set_local(offer)
        except InvalidStateError as exc:
            raise LocalProtocolError(f"Cannot make an offer now: {exc}.") from exc
        return self._local_sdp()

    async def accept_offer(self, sdp: str) -> str:
        """Take the peer's offer, gather, and return the answer SDP.

        An offer without a single candidate comes from a peer that only talks
        through the transit relay: aiortc would fail its ICE at once and then
        gather nothing, so we only describe ourselves (the session meets at the
        relay, and the description still goes into the pairing transcript).
        """
        if isinstance(sdp, str) and count_candidates(sdp) == 0:
            check_description(sdp)
            return await self.create_offer()
        await self._set_remote(sdp, "offer")
        try:
            answer = await self._pc.createAnswer()
            await self._set_local(answer)
        except InvalidStateError as exc:
            raise LocalProtocolError(f"Cannot answer now: {exc}.") from exc
        return self._local_sdp()

    async def accept_answer(self, sdp: str) -> None:
        """Take the peer's answer; connectivity checks start in the background.

        Transit-only links offered no address, so no check could ever succeed: the
        answer is not taken (nor parsed) at all.
        """
        if self._ice.transit_only:
            return
        await self._set_remote(sdp, "answer")

    async def _set_local(self, description: RTCSessionDescription) -> None:
        with link_gathering(self._loopback):
            await self._pc.setLocalDescription(description)

    def _local_sdp(self) -> str:
        local = self._pc.localDescription
        if local is None:
            raise LocalProtocolError("No local description after gathering (a bug).")
        if count_candidates(local.sdp) == 0 and not self._ice.transit_only:
            relay = self._configuration.iceTransportPolicy == RTCIceTransportPolicy.RELAY
            raise no_address_error(relay)
        return local.sdp

    async def _set_remote(self, sdp: str, kind: Literal["offer", "answer"]) -> None:
        if not isinstance(sdp, str) or len(sdp) > MAX_SDP_CHARS:
            raise RemoteProtocolError(f"The peer's {kind} is not a plausible session description.")
        if self._loopback:
            sdp = keep_loopback_candidates(sdp)
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except InvalidStateError as exc:
            raise LocalProtocolError(f"Cannot take the peer's {kind} now: {exc}.") from exc
        except (*UNPARSABLE, InvalidAccessError) as exc:
            raise RemoteProtocolError(
                f"The peer's {kind} could not be understood ({type(exc).__name__})."
            ) from exc

    @property
    def offers_no_candidates(self) -> bool:
        """Our description offered no address (transit only): no direct path can open."""
        local = self._pc.localDescription
        return local is not None and count_candidates(local.sdp) == 0

    @property
    def found_public_address(self) -> bool:
        """A STUN server told us our public address (a server-reflexive candidate)."""
        local = self._pc.localDescription
        return local is not None and " typ srflx" in local.sdp

    async def wait_open(self, timeout: float) -> None:
        """Wait until both channels are open; ``TransportError`` on timeout or close."""
        opened = asyncio.ensure_future(self._opened.wait())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            await asyncio.wait(
                {opened, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            opened.cancel()
            closed.cancel()
        if self.closed.is_set():
            raise self._closed_error()
        if not self._opened.is_set():
            raise NoDirectPath(
                f"No direct path to the peer within {timeout:g} s (firewalls or NATs in the way)."
            )

    @property
    def is_open(self) -> bool:
        return self._opened.is_set() and not self.closed.is_set()

    def _on_channel_open(self) -> None:
        if all(ch.readyState == "open" for ch in self._channels.values()):
            self._opened.set()

    @property
    def buffered_amount(self) -> int:
        """Bytes handed to ``send()`` that aiortc has not yet passed to SCTP, all channels."""
        return sum(ch.bufferedAmount for ch in self._channels.values())

    def writable(self) -> bool:
        """True when ``send()`` of a small message would not wait."""
        return self.is_open and self.buffered_amount < SEND_BUFFER_LIMIT

    async def wait_writable(self, size: int) -> None:
        """Wait until ``send()`` of ``size`` bytes would not wait.

        Callers with a priority queue (the service) wait for room *before* choosing
        what to send, so a text queued meanwhile still goes ahead of the next chunk.
        """
        while True:
            if self.closed.is_set():
                raise self._closed_error()
            buffered = self.buffered_amount
            if buffered + size <= SEND_BUFFER_LIMIT or buffered <= _SUM_OF_THRESHOLDS:
                return
            self._buffer_low.clear()
            await self._buffer_low.wait()

    async def send(self, channel: Channel, data: bytes) -> None:
        """Queue ``data`` on ``channel``, first waiting while the link's queue is full.

        Sends once ``buffered + len(data) <= SEND_BUFFER_LIMIT``, or once the queue is
        down to the sum of the channels' low thresholds (so a message bigger than the
        room left still goes): at most ``SEND_BUFFER_LIMIT`` plus one message is ever
        queued. A sender that waits always has a channel above its threshold, whose
        ``bufferedamountlow`` event will wake it: no polling, no deadlock.
        """
        data_channel = self._channels[Channel(channel)]
        await self.wait_writable(len(data))
        if data_channel.readyState == "connecting":
            raise LocalProtocolError("send() before the link is open: await wait_open() first.")
        try:
            data_channel.send(bytes(data))
        except InvalidStateError as exc:
            raise self._closed_error() from exc
        except ValueError as exc:
            raise LocalProtocolError(f"Cannot send this message: {exc}.") from exc
        self.peak_buffered_amount = max(self.peak_buffered_amount, self.buffered_amount)

    def _message_handler(self, channel: Channel) -> Callable[[bytes | str], None]:
        def on_message(message: bytes | str) -> None:
            if self.closed.is_set():
                return
            refused = self._inbox.take(channel, message)
            if refused is not None:
                self._fail(refused)

        return on_message

    async def recv(self, timeout: float | None = None) -> tuple[Channel, bytes]:
        """The next message from either channel, in arrival order.

        Messages that arrived before the link closed are still delivered; after them
        the close reason is raised (``PeerLost`` when the peer left, ``TransportError``
        otherwise). A ``timeout`` that passes raises the builtin ``TimeoutError``.
        """
        if self._inbox.empty() and self.closed.is_set():
            raise self._closed_error()
        item = await self._inbox.get(timeout)
        if item is None:
            raise self._closed_error()
        return item

    @property
    def connection_kind(self) -> ConnectionKind:
        """The nominated ICE pair's kind (see ``rtc_state.nominated_kind``)."""
        return nominated_kind(self._pc)

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        if state == "failed":
            self._fail(PeerLost("The connection to the peer failed (network change or peer gone)."))
        elif state == "closed":
            self._fail(PeerLost("The connection to the peer was closed."))

    def _on_channel_close(self) -> None:
        self._fail(PeerLost("The peer closed the connection."))

    def _fail(self, reason: P2PChatError) -> None:
        """Mark the link closed (first reason wins) and release its resources."""
        closed_now = self._mark_closed(reason, self._buffer_low.set, self._inbox.end)
        if closed_now and not self._closing:
            self._close_task = asyncio.ensure_future(self.close())

    async def drain(self, timeout: float) -> bool:
        """Wait until everything sent has left the channel queues and SCTP has it
        acknowledged by the peer, because ``close()`` drops whatever is still queued.

        Returns True when drained, False on timeout or if the link closed first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for data_channel in self._channels.values():
            # Threshold 0: each non-empty channel fires once it is empty.
            data_channel.bufferedAmountLowThreshold = 0
        try:
            while self.buffered_amount > 0 or not sctp_idle(self._pc):
                remaining = deadline - loop.time()
                if self.closed.is_set() or remaining <= 0:
                    return False
                if self.buffered_amount > 0:
                    self._buffer_low.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._buffer_low.wait(), remaining)
                else:
                    # SCTP has no "all acknowledged" event; its queues are short by now.
                    await asyncio.sleep(min(0.005, remaining))
            return True
        finally:
            for data_channel in self._channels.values():
                data_channel.bufferedAmountLowThreshold = _LOW_THRESHOLD

    async def close(self) -> None:
        """Close the connection (idempotent, bounded). Queued data is dropped: ``drain()`` first.

        aiortc's own close runs once, in a task of its own, so that a caller being
        cancelled cannot leave it half done (its later callers would wait forever).
        """
        if not self._closing:
            self._closing = True
            self._fail(TransportError("The connection was closed on this side."))
        if self._pc_closed is None:
            self._pc_closed = asyncio.ensure_future(self._pc.close())
        done, _ = await asyncio.wait({self._pc_closed}, timeout=PC_CLOSE_TIMEOUT)
        if not done:
            logger.warning("the WebRTC connection did not close within %g s", PC_CLOSE_TIMEOUT)
        elif not self._pc_closed.cancelled() and self._pc_closed.exception() is not None:
            logger.debug("closing the WebRTC connection failed: %r", self._pc_closed.exception())


__all__ = [
    "DEFAULT_RECV_BUFFER_LIMIT",
    "MAX_SDP_CHARS",
    "PC_CLOSE_TIMEOUT",
    "RECV_MESSAGE_OVERHEAD",
    "SEND_BUFFER_LIMIT",
    "TURN_REST_TTL_SECONDS",
    "TURN_REST_USER",
    "ConnectionKind",
    "IceSettings",
    "NoDirectPath",
    "RtcLink",
    "count_candidates",
    "ice_configuration",
    "loopback_only",
    "turn_rest_credentials",
]
