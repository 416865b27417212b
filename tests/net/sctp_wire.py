"""Two real aiortc SCTP associations joined by an in-process wire that drops chosen packets.

The only fake is the DTLS layer below SCTP (``FakeDtls``): it hands each packet to
the other side after a fixed one-way ``delay`` on the running loop, unless the
``drop`` rule says otherwise. The rule sees the packet's direction, its DATA chunk
TSN (if any) and how many times that TSN has crossed the wire, so a test can lose
e.g. "the first and second transmission of the 20th chunk" deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc.rtcdatachannel import RTCDataChannel, RTCDataChannelParameters
from aiortc.rtcsctptransport import DataChunk, RTCSctpTransport, parse_packet

from p2pchat.net.sctp_sender import upgrade

# (direction "a>b" or "b>a", relative TSN or None, transmission number) -> drop?
DropRule = Callable[[str, int | None, int], bool]


class FakeDtls:
    """The part of RTCDtlsTransport that RTCSctpTransport uses."""

    def __init__(self, role: str, wire: Wire, direction: str) -> None:
        self.state = "connected"
        self._role = role
        self._wire = wire
        self._direction = direction
        self.peer: FakeDtls | None = None
        self.receiver: RTCSctpTransport | None = None

    def _register_data_receiver(self, receiver: RTCSctpTransport) -> None:
        self.receiver = receiver

    def _unregister_data_receiver(self, receiver: RTCSctpTransport) -> None:
        self.receiver = None

    async def _send_data(self, data: bytes) -> None:
        assert self.peer is not None
        if self._wire.carry(self._direction, data):
            peer = self.peer
            loop = asyncio.get_running_loop()
            loop.call_later(self._wire.delay, self._deliver, peer, data)

    def _deliver(self, peer: FakeDtls, data: bytes) -> None:
        if peer.receiver is not None:
            task = asyncio.ensure_future(peer.receiver._handle_data(data))
            self._wire.tasks.add(task)
            task.add_done_callback(self._wire.tasks.discard)


class SinkDtls:
    """A DTLS stand-in that accepts and discards what the sender writes."""

    state = "connected"
    _role = "client"

    def _register_data_receiver(self, receiver: object) -> None: ...
    def _unregister_data_receiver(self, receiver: object) -> None: ...
    async def _send_data(self, data: bytes) -> None: ...


@dataclass
class Wire:
    delay: float = 0.01
    drop: DropRule = lambda direction, tsn, nth: False
    first_tsn: dict[str, int] = field(default_factory=dict)
    sends: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    log: list[tuple[str, str, int | None]] = field(default_factory=list)
    tasks: set[asyncio.Future[None]] = field(default_factory=set)

    def carry(self, direction: str, data: bytes) -> bool:
        _, _, _, chunks = parse_packet(data)
        tsn: int | None = None
        for chunk in chunks:
            if isinstance(chunk, DataChunk):
                base = self.first_tsn.setdefault(direction, chunk.tsn)
                tsn = (chunk.tsn - base) % 2**32
        kind = type(chunks[0]).__name__ if chunks else "?"
        self.log.append((direction, kind, tsn))
        if tsn is None:
            return not self.drop(direction, None, 0)
        self.sends[(direction, tsn)] += 1
        return not self.drop(direction, tsn, self.sends[(direction, tsn)])


@dataclass
class Pair:
    sender: RTCSctpTransport
    receiver: RTCSctpTransport
    channel: RTCDataChannel
    wire: Wire
    received: asyncio.Queue[bytes]

    async def transfer(self, payload: bytes, timeout: float = 30) -> None:
        """Send ``payload`` as 60 kB messages and wait until all of it arrived intact."""
        pieces = [payload[i : i + 60_000] for i in range(0, len(payload), 60_000)]
        for piece in pieces:
            self.channel.send(piece)
        got = [await asyncio.wait_for(self.received.get(), timeout) for _ in pieces]
        assert b"".join(got) == payload


@contextlib.asynccontextmanager
async def sctp_pair(
    wire: Wire, *, upgraded: bool = True, receiver_upgraded: bool = False
) -> AsyncIterator[Pair]:
    """Sender (DTLS client) and receiver, associated, with one negotiated channel.

    ``receiver_upgraded`` makes the receiver a ``PacedSctpTransport`` too, as in an
    RtcLink (its acknowledgements then follow sctp_sender's rule)."""
    dtls_a = FakeDtls("client", wire, "a>b")
    dtls_b = FakeDtls("server", wire, "b>a")
    dtls_a.peer, dtls_b.peer = dtls_b, dtls_a
    sender = RTCSctpTransport(dtls_a)  # type: ignore[arg-type]
    receiver = RTCSctpTransport(dtls_b)  # type: ignore[arg-type]
    if upgraded:
        assert upgrade(sender)
    if receiver_upgraded:
        assert upgrade(receiver)
    params = RTCDataChannelParameters(label="data", negotiated=True, id=1)
    channel = RTCDataChannel(sender, params)
    inbound = RTCDataChannel(receiver, params)
    received: asyncio.Queue[bytes] = asyncio.Queue()

    @inbound.on("message")
    def on_message(message: Any) -> None:
        received.put_nowait(message)

    opened = asyncio.Event()
    channel.on("open", opened.set)
    await sender.start(receiver.getCapabilities(), 5000)
    await receiver.start(sender.getCapabilities(), 5000)
    await asyncio.wait_for(opened.wait(), 10)
    try:
        yield Pair(sender, receiver, channel, wire, received)
    finally:
        await sender.stop()
        await receiver.stop()
