"""The fallback transport: session frames over a magic-wormhole transit relay (TCP).

Owns ``TransitLink`` (the same send/receive interface as ``rtc.RtcLink``, over one
TCP stream) and ``open_transit``, which speaks the relay's handshake: both peers
send ``please relay <token> for side <side>\\n`` and the relay answers ``ok\\n``
once both arrived, then glues the two sockets together.

Why frames and not WebRTC over the stream: the session layer already encrypts and
authenticates every frame (keys from the pairing, never sent anywhere), so DTLS
would only wrap ciphertext a second time, and SCTP would re-implement over a
reliable, ordered TCP stream what TCP already does. A frame here is
``channel (1 byte) || length (4 bytes, big-endian) || payload``.

The token is derived from a key only the two peers hold, so nobody else can be
glued to either of them; the relay sees both addresses and ciphertext.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import struct
from typing import Final, Literal

from p2pchat.core.errors import (
    LocalProtocolError,
    P2PChatError,
    PeerLost,
    RemoteProtocolError,
    TransportError,
)
from p2pchat.core.keys import Channel
from p2pchat.net.link import ConnectionKind, LinkClosing

logger = logging.getLogger(__name__)

#: Same budget as the data channels (rtc.SEND_BUFFER_LIMIT).
SEND_BUFFER_LIMIT: Final = 128 * 1024
#: Bytes received but not yet taken by ``recv()``; beyond it we stop reading the
#: socket, so TCP flow control slows the peer down (no flood can grow it).
RECV_BUFFER_LIMIT: Final = 4 * 1024 * 1024
#: The biggest frame a peer may announce; checked before anything is allocated.
MAX_FRAME: Final = 256 * 1024
HANDSHAKE_TIMEOUT: Final = 10.0
CLOSE_TIMEOUT: Final = 2.0
_HEADER: Final = struct.Struct(">BI")

Role = Literal["offerer", "answerer"]


def parse_relay(hint: str) -> tuple[str, int]:
    """``tcp:HOST:PORT`` (magic-wormhole's hint form) as ``(host, port)``."""
    kind, _, rest = hint.partition(":")
    host, _, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if kind != "tcp" or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise TransportError(
            f"{hint!r} is not a usable transit relay address; write it as tcp:HOST:PORT."
        )
    return host, int(port_text)


def relay_handshake(key: bytes, role: Role) -> bytes:
    """The line this side sends: a token both peers derive from ``key``, and our side.

    The sides differ by role (the relay glues only different sides together) and,
    like the token, mean nothing to anyone without the key.
    """
    token = hmac.new(key, b"p2pchat transit relay token", hashlib.sha256).hexdigest()
    side = hmac.new(key, b"p2pchat transit side " + role.encode(), hashlib.sha256).hexdigest()
    return f"please relay {token} for side {side[:16]}\n".encode("ascii")


async def open_transit(relay: str, key: bytes, role: Role) -> TransitLink:
    """Connect to ``relay`` and wait (as long as the caller lets us) for the peer.

    Raises ``TransportError`` when the relay cannot be reached or refuses us.
    """
    host, port = parse_relay(relay)
    try:
        reader, writer = await asyncio.wait_for(
            # The limit bounds the relay's reply line and, later, how much the
            # stream buffers before it stops reading the socket.
            asyncio.open_connection(host, port, limit=MAX_FRAME),
            HANDSHAKE_TIMEOUT,
        )
    except (OSError, TimeoutError) as error:
        raise TransportError(
            f"The transit relay {relay} could not be reached ({_reason(error)})."
        ) from None
    try:
        writer.write(relay_handshake(key, role))
        reply = await reader.readline()
    except (OSError, ValueError) as error:
        writer.close()
        raise TransportError(f"The transit relay {relay} failed ({_reason(error)}).") from None
    except BaseException:
        writer.close()
        raise
    if reply != b"ok\n":
        writer.close()
        raise TransportError(
            f"The transit relay {relay} did not connect us to the peer "
            f"({'it closed the connection' if not reply else 'it answered something else'})."
        )
    return TransitLink(reader, writer)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer within {HANDSHAKE_TIMEOUT:g} s"
    return getattr(error, "strerror", None) or type(error).__name__


class TransitLink(LinkClosing):
    """One relayed TCP stream carrying CONTROL and DATA frames in order.

    Mirrors ``RtcLink``: ``send``/``wait_writable``/``writable``, ``recv``,
    ``drain``, ``close``, ``on_closed``, ``closed``/``close_reason`` and
    ``connection_kind`` (``"transit"``; ``net.direct.DirectLink`` reuses it all).
    """

    #: How a broken or closed stream is worded (a subclass names its own path).
    _BROKE: str = "The transit relay connection broke"
    _PEER_CLOSED: str = "The peer closed the relayed connection"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        writer.transport.set_write_buffer_limits(high=SEND_BUFFER_LIMIT)
        self._recv_queue: asyncio.Queue[tuple[Channel, bytes] | None] = asyncio.Queue()
        self._recv_queued_bytes = 0
        self._room = asyncio.Event()
        self._room.set()
        super().__init__()
        self.peak_buffered_amount = 0
        self._reading = asyncio.ensure_future(self._read_loop())

    # --------------------------------------------------------------------- opening

    async def wait_open(self, timeout: float) -> None:
        """Open once the relay said ``ok``; kept for RtcLink's interface."""
        if self.closed.is_set():
            raise self._closed_error()

    @property
    def is_open(self) -> bool:
        return not self.closed.is_set()

    # --------------------------------------------------------------------- sending

    @property
    def buffered_amount(self) -> int:
        return self._writer.transport.get_write_buffer_size()

    def writable(self) -> bool:
        return self.is_open and self.buffered_amount < SEND_BUFFER_LIMIT

    async def wait_writable(self, size: int) -> None:
        """Wait until the socket's send buffer has drained below its low-water mark."""
        if self.closed.is_set():
            raise self._closed_error()
        if self.buffered_amount + size <= SEND_BUFFER_LIMIT:
            return
        try:
            await self._writer.drain()
        except (OSError, RuntimeError) as error:
            self._fail(PeerLost(f"{self._BROKE} ({_reason(error)})."))
        if self.closed.is_set():
            raise self._closed_error()

    async def send(self, channel: Channel, data: bytes) -> None:
        if len(data) > MAX_FRAME:
            raise LocalProtocolError(f"Cannot send a frame of {len(data)} bytes over the relay.")
        await self.wait_writable(len(data))
        self._writer.write(_HEADER.pack(int(Channel(channel)), len(data)) + bytes(data))
        self.peak_buffered_amount = max(self.peak_buffered_amount, self.buffered_amount)

    # ------------------------------------------------------------------- receiving

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self._reader.readexactly(_HEADER.size)
                channel_number, length = _HEADER.unpack(header)
                if channel_number not in (int(Channel.CONTROL), int(Channel.DATA)):
                    raise RemoteProtocolError("The peer sent a frame on an unknown channel.")
                if length > MAX_FRAME:
                    raise RemoteProtocolError(
                        f"The peer announced a {length}-byte frame; at most {MAX_FRAME} allowed."
                    )
                payload = await self._reader.readexactly(length)
                self._recv_queue.put_nowait((Channel(channel_number), payload))
                self._recv_queued_bytes += len(payload)
                while self._recv_queued_bytes > RECV_BUFFER_LIMIT:
                    self._room.clear()
                    await self._room.wait()
        except asyncio.IncompleteReadError as error:
            reason = "" if not error.partial else " in the middle of a frame"
            self._fail(PeerLost(f"{self._PEER_CLOSED}{reason}."))
        except (OSError, RuntimeError) as error:
            self._fail(PeerLost(f"{self._BROKE} ({_reason(error)})."))
        except P2PChatError as error:
            self._fail(error)

    async def recv(self, timeout: float | None = None) -> tuple[Channel, bytes]:
        """The next frame; after the queued ones the close reason is raised."""
        if self._recv_queue.empty() and self.closed.is_set():
            raise self._closed_error()
        if timeout is None:
            item = await self._recv_queue.get()
        else:
            item = await asyncio.wait_for(self._recv_queue.get(), timeout)
        if item is None:
            self._recv_queue.put_nowait(None)
            raise self._closed_error()
        self._recv_queued_bytes -= len(item[1])
        if self._recv_queued_bytes <= RECV_BUFFER_LIMIT:
            self._room.set()
        return item

    # -------------------------------------------------------------- path and state

    @property
    def connection_kind(self) -> ConnectionKind:
        return "transit"

    def _fail(self, reason: P2PChatError) -> None:
        if self._mark_closed(reason, self._room.set, lambda: self._recv_queue.put_nowait(None)):
            self._writer.close()

    # --------------------------------------------------------------------- closing

    async def drain(self, timeout: float) -> bool:
        """Wait until everything sent left our buffer (TCP delivers it before the FIN)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.buffered_amount > 0:
            if self.closed.is_set() or loop.time() >= deadline:
                return False
            await asyncio.sleep(0.005)
        return not self.closed.is_set()

    async def close(self) -> None:
        """Close the stream (idempotent); unsent bytes still go out before the FIN."""
        if not self._closing:
            self._closing = True
            self._fail(TransportError("The connection was closed on this side."))
        self._reading.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), CLOSE_TIMEOUT)
