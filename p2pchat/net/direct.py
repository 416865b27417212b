"""The direct TCP path on a shared network: magic-wormhole's direct hints.

Owns ``DirectListener`` (the pairing's leader listens on its private addresses and
names them in its sealed version), ``connect_direct`` (the other side connects to
those hints), the mutual proof both run before anything else, ``DirectLink`` (the
transit relay's frames, ``net.transit``, over the authenticated stream) and
``local_hint_addresses``.

The proof: each side sends ``HELLO`` (a fixed prefix and a fresh 16-byte nonce) at
once; the connector then sends an HMAC, under the pairing's direct key, of its
role and both nonces; the listener checks it and only then answers with its own.
The key comes from the PAKE (``Pairing.direct_key``), so a stranger on the network
who connects learns a nonce and nothing else, and fresh nonces make a recorded
proof worthless. Before the proof a connection may send exactly
``HELLO_SIZE + PROOF_SIZE`` bytes within ``AUTH_TIMEOUT``; a listener takes at
most ``MAX_CONNECTIONS`` connections in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Sequence
from typing import Final

from p2pchat.core.errors import TransportError
from p2pchat.core.handshake.version import MAX_DIRECT_HINTS, DirectHint, hint_address_allowed
from p2pchat.net.link import ConnectionKind
from p2pchat.net.transit import MAX_FRAME, TransitLink

log = logging.getLogger(__name__)

HELLO_PREFIX: Final = b"p2pchat direct/1 "
NONCE_SIZE: Final = 16
HELLO_SIZE: Final = len(HELLO_PREFIX) + NONCE_SIZE
PROOF_SIZE: Final = 32
#: How long a connection has for the whole proof, and an attempt to connect at all.
#: A shared network answers in milliseconds; a hint that is not ours (another
#: network's 192.168.1.x) may swallow the SYN, and the pairing must not wait on it.
AUTH_TIMEOUT: Final = 3.0
CONNECT_TIMEOUT: Final = 3.0
#: Connections a listener takes in all (a scanner on the network cannot keep it busy).
MAX_CONNECTIONS: Final = 16


class _Refused(Exception):
    """A connection that did not prove the key (or spoke something else)."""


def _proof(key: bytes, role: bytes, listener_nonce: bytes, connector_nonce: bytes) -> bytes:
    message = b"p2pchat direct proof " + role + b" " + listener_nonce + connector_nonce
    return hmac.new(key, message, hashlib.sha256).digest()


def _nonce_of(hello: bytes) -> bytes:
    if not hello.startswith(HELLO_PREFIX):
        raise _Refused
    return hello[len(HELLO_PREFIX) :]


class DirectLink(TransitLink):
    """An authenticated direct TCP stream; the same frames as over the transit relay."""

    _BROKE = "The direct connection on your network broke"
    _PEER_CLOSED = "The peer closed the direct connection"

    @property
    def connection_kind(self) -> ConnectionKind:
        return "lan"


class DirectListener:
    """Listens on a few addresses until a connection proves the key, or ``close()``."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self.hints: list[DirectHint] = []
        self._key: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._winner: asyncio.Future[DirectLink] = asyncio.get_running_loop().create_future()
        self._writers: set[asyncio.StreamWriter] = set()
        self._taken = False
        self.connections = 0

    @classmethod
    async def open(cls, addresses: Sequence[str]) -> DirectListener:
        """Listen on each of ``addresses`` (an ephemeral port each); skip what fails."""
        listener = cls()
        for address in addresses[:MAX_DIRECT_HINTS]:
            try:
                server = await asyncio.start_server(
                    listener._on_connection, address, 0, limit=MAX_FRAME, backlog=MAX_CONNECTIONS
                )
            except OSError:
                log.debug("could not listen for a direct connection on one address")
                continue
            listener._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            listener.hints.append((address, int(port)))
        return listener

    async def accept(self, key: bytes) -> DirectLink:
        """The first connection that proves ``key`` (connections may arrive before it)."""
        if not self._key.done():
            self._key.set_result(key)
        link = await asyncio.shield(self._winner)
        self._taken = True
        return link

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self._winner.done() or self.connections >= MAX_CONNECTIONS:
            writer.close()
            return
        self.connections += 1
        self._writers.add(writer)
        try:
            async with asyncio.timeout(AUTH_TIMEOUT):
                nonce = os.urandom(NONCE_SIZE)
                writer.write(HELLO_PREFIX + nonce)
                peer_nonce = _nonce_of(await reader.readexactly(HELLO_SIZE))
                proof = await reader.readexactly(PROOF_SIZE)
                key = await asyncio.shield(self._key)
                if not hmac.compare_digest(proof, _proof(key, b"connector", nonce, peer_nonce)):
                    raise _Refused
                writer.write(_proof(key, b"listener", nonce, peer_nonce))
        except (_Refused, TimeoutError, OSError, EOFError, asyncio.CancelledError):
            self._writers.discard(writer)
            writer.close()
            return
        self._writers.discard(writer)
        if self._winner.done():
            writer.close()
            return
        self._winner.set_result(DirectLink(reader, writer))

    async def close(self) -> None:
        """Stop listening, drop unproven connections, and a proven one nobody took."""
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        if not self._winner.done():
            self._winner.cancel()
        elif not self._taken and not self._winner.cancelled():
            await self._winner.result().close()
        # Not Server.wait_closed(): since Python 3.12 it also waits for the accepted
        # connections, the chosen link among them. Server.close() has already closed
        # the listening sockets.


async def connect_direct(hints: Sequence[DirectHint], key: bytes) -> DirectLink:
    """Connect to all ``hints`` at once; the first that proves ``key`` wins.

    Raises ``TransportError`` when none does.
    """
    if not hints:
        raise TransportError("The peer named no address for a direct connection.")
    attempts = [asyncio.ensure_future(_connect_one(host, port, key)) for host, port in hints]
    winner: DirectLink | None = None
    try:
        for finished in asyncio.as_completed(attempts):
            with contextlib.suppress(TransportError):
                winner = await finished
                return winner
    finally:
        for attempt in attempts:
            attempt.cancel()
        for outcome in await asyncio.gather(*attempts, return_exceptions=True):
            if isinstance(outcome, DirectLink) and outcome is not winner:
                await outcome.close()
    raise TransportError("No address the peer named for a direct connection answered.")


async def _connect_one(host: str, port: int, key: bytes) -> DirectLink:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT + AUTH_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_FRAME)
            try:
                nonce = os.urandom(NONCE_SIZE)
                writer.write(HELLO_PREFIX + nonce)
                listener_nonce = _nonce_of(await reader.readexactly(HELLO_SIZE))
                writer.write(_proof(key, b"connector", listener_nonce, nonce))
                proof = await reader.readexactly(PROOF_SIZE)
                if not hmac.compare_digest(proof, _proof(key, b"listener", listener_nonce, nonce)):
                    raise _Refused
            except BaseException:
                writer.close()
                raise
    except (_Refused, TimeoutError, OSError, EOFError) as error:
        raise TransportError(f"A direct connection failed ({type(error).__name__}).") from None
    return DirectLink(reader, writer)


def local_hint_addresses(loopback: bool) -> list[str]:
    """Where to listen: 127.0.0.1 under ``loopback``, else this machine's addresses on
    shared networks (RFC 1918, IPv4 link-local, IPv6 ULA), never a public or loopback one.

    Read from the interfaces (Linux: ``SIOCGIFADDR`` and ``/proc/net/if_inet6``); where
    that is unavailable, the address the default route would use (a UDP ``connect`` to
    a documentation address sends no packet).
    """
    if loopback:
        return ["127.0.0.1"]
    found: list[str] = []
    with contextlib.suppress(OSError, ImportError, ValueError):
        found += _linux_ipv4()
    with contextlib.suppress(OSError, ValueError):
        found += _linux_ipv6_ula()
    if not found:
        with contextlib.suppress(OSError):
            found.append(_routed_ipv4())
    kept: list[str] = []
    for address in found:
        allowed = address not in kept and hint_address_allowed(address)
        if allowed and not ipaddress.ip_address(address).is_loopback:
            kept.append(address)
    return kept[:MAX_DIRECT_HINTS]


_SIOCGIFADDR: Final = 0x8915


def _linux_ipv4() -> list[str]:
    import fcntl

    addresses = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            with contextlib.suppress(OSError):
                reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
                addresses.append(socket.inet_ntoa(reply[20:24]))
    return addresses


def _linux_ipv6_ula() -> list[str]:
    addresses = []
    with open("/proc/net/if_inet6", encoding="ascii") as table:
        for line in table:
            text = line.split()[0]
            address = str(ipaddress.IPv6Address(int(text, 16)))
            if address.startswith(("fc", "fd")):
                addresses.append(address)
    return addresses


def _routed_ipv4() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        return str(probe.getsockname()[0])


__all__ = [
    "AUTH_TIMEOUT",
    "MAX_CONNECTIONS",
    "DirectLink",
    "DirectListener",
    "connect_direct",
    "local_hint_addresses",
]
