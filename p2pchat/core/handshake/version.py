"""What a side says about itself in a handshake: protocol version, identity, ephemeral, caps.

The mailbox pairing sends it as the sealed ``version`` map; both copy-paste
handshakes send the same fields as a positional list (``pack_version``: key
names would be a fifth of a blob); the reconnect hello carries the same
capabilities. All of them are checked here, by the one decoder, so a peer's
capabilities mean the same whichever handshake brought them.

The mailbox pairing's map may also carry ``direct``: the TCP addresses on which
a side listens for a direct connection on a shared network (magic-wormhole's
direct hints), at most ``MAX_DIRECT_HINTS`` ``[ip, port]`` pairs. Old peers
ignore the key; ``decode_direct_hints`` refuses a malformed list and drops what
is well formed but no private or loopback IP literal (never a name to resolve).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import msgpack

from p2pchat.core import crypto
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake.steps import decode_msgpack_map
from p2pchat.core.keys import Capabilities
from p2pchat.core.labels import MAX_LABEL_BYTES, read_peer_label

PROTOCOL_VERSION: Final = 1
IDENTITY_KEY_SIZE: Final = 32
MAX_CAPABILITY_LABEL_BYTES: Final = MAX_LABEL_BYTES  # labels.read_peer_label checks it
_MAX_LIMIT_VALUE: Final = 2**53  # capability limits are sizes; anything above is nonsense
MAX_DIRECT_HINTS: Final = 8
MAX_HINT_ADDRESS_CHARS: Final = 45  # the longest IPv6 literal (with an embedded IPv4)
#: Where a direct hint may point: a shared network (RFC 1918, IPv4 link-local, IPv6
#: ULA) or this machine. A public address, a multicast one or a name is never
#: connected to: a peer must not steer us at arbitrary hosts.
HINT_NETWORKS: Final = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "127.0.0.0/8",
        "::1/128",
    )
)
DirectHint = tuple[str, int]


def _field(mapping: Mapping[str, object], key: str, kind: type, what: str) -> object:
    if key not in mapping:
        raise RemoteProtocolError(f"{what} lacks the field {key!r}")
    value = mapping[key]
    # bool is an int subclass: a flag must not pass for a number, nor the reverse.
    if type(value) is not kind:
        raise RemoteProtocolError(f"{what} field {key!r} must be of type {kind.__name__}")
    return value


def _size_limit(mapping: Mapping[str, object], key: str, what: str) -> int:
    value = _field(mapping, key, int, what)
    assert isinstance(value, int)
    if not 0 <= value <= _MAX_LIMIT_VALUE:
        raise RemoteProtocolError(f"{what} field {key!r} is out of range")
    return value


def encode_capabilities(capabilities: Capabilities) -> dict[str, object]:
    return {
        "view_once": capabilities.view_once,
        "max_image_bytes": capabilities.max_image_bytes,
        "max_text_chars": capabilities.max_text_chars,
        "label": capabilities.label,
    }


def decode_capabilities(value: object) -> Capabilities:
    """Peer capabilities, validated; unknown keys are ignored (the extension point)."""
    what = "capabilities"
    if not isinstance(value, dict):
        raise RemoteProtocolError("capabilities must be a map")
    view_once = _field(value, "view_once", bool, what)
    label = _field(value, "label", str, what)
    assert isinstance(view_once, bool) and isinstance(label, str)
    return Capabilities(
        view_once=view_once,
        max_image_bytes=_size_limit(value, "max_image_bytes", what),
        max_text_chars=_size_limit(value, "max_text_chars", what),
        label=read_peer_label(label) if label else "",
    )


def hint_address_allowed(address: str) -> bool:
    """Whether ``address`` is an IP literal inside ``HINT_NETWORKS``."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in HINT_NETWORKS)


def encode_direct_hints(hints: Sequence[DirectHint]) -> list[list[object]]:
    """Our hints for the version map; only what ``decode_direct_hints`` would keep."""
    if len(hints) > MAX_DIRECT_HINTS:
        raise LocalProtocolError(f"at most {MAX_DIRECT_HINTS} direct hints")
    if not all(hint_address_allowed(host) and 0 < port < 65536 for host, port in hints):
        raise LocalProtocolError("a direct hint must be a private or loopback IP and a port")
    return [[host, port] for host, port in hints]


def decode_direct_hints(value: object) -> tuple[DirectHint, ...]:
    """The peer's direct hints: a malformed list is refused, foreign addresses dropped."""
    if not isinstance(value, list) or len(value) > MAX_DIRECT_HINTS:
        raise RemoteProtocolError(
            f"the direct hints must be a list of at most {MAX_DIRECT_HINTS} entries"
        )
    kept: list[DirectHint] = []
    for item in value:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and type(item[0]) is str
            and type(item[1]) is int
        ):
            raise RemoteProtocolError("a direct hint must be [address, port]")
        host, port = item
        if not 0 < port < 65536 or not 0 < len(host) <= MAX_HINT_ADDRESS_CHARS:
            raise RemoteProtocolError("a direct hint has an impossible address or port")
        if hint_address_allowed(host):
            hint = (str(ipaddress.ip_address(host)), port)
            if hint not in kept:
                kept.append(hint)
    return tuple(kept)


@dataclass(frozen=True)
class PeerVersion:
    """The peer's verified ``version`` message.

    ``direct`` is None when the peer takes no part in a direct TCP path (an older
    release, or switched off), else the hints it listens on (maybe none).
    """

    protocol: int
    identity: bytes
    ephemeral: bytes
    capabilities: Capabilities
    direct: tuple[DirectHint, ...] | None = None


def decode_version(plaintext: bytes) -> PeerVersion:
    what = "version message"
    fields = decode_msgpack_map(plaintext, what)
    protocol = _field(fields, "v", int, what)
    identity = _field(fields, "id", bytes, what)
    ephemeral = _field(fields, "eph", bytes, what)
    assert isinstance(protocol, int)
    assert isinstance(identity, bytes) and isinstance(ephemeral, bytes)
    if protocol != PROTOCOL_VERSION:
        raise RemoteProtocolError(
            f"The peer speaks pairing protocol version {protocol} and this client speaks "
            f"{PROTOCOL_VERSION}: both need the same p2pchat release series."
        )
    if len(identity) != IDENTITY_KEY_SIZE:
        raise RemoteProtocolError("peer identity key has the wrong size")
    if len(ephemeral) != crypto.X25519_KEY_SIZE:
        raise RemoteProtocolError("peer ephemeral key has the wrong size")
    if "caps" not in fields:
        raise RemoteProtocolError(f"{what} lacks the field 'caps'")
    direct = decode_direct_hints(fields["direct"]) if "direct" in fields else None
    return PeerVersion(protocol, identity, ephemeral, decode_capabilities(fields["caps"]), direct)


def pack_version(identity: bytes, ephemeral: bytes, capabilities: Capabilities) -> bytes:
    """Our ``version`` for a copy-paste handshake: ``[v, id, eph, [view_once, max image
    bytes, max text chars, label]]``, the mailbox pairing's fields without their names."""
    caps = encode_capabilities(capabilities)
    return bytes(
        msgpack.packb(
            [
                PROTOCOL_VERSION,
                identity,
                ephemeral,
                [caps["view_once"], caps["max_image_bytes"], caps["max_text_chars"], caps["label"]],
            ],
            use_bin_type=True,
        )
    )


def unpack_version(data: bytes) -> PeerVersion:
    """The peer's ``pack_version``, checked exactly as the mailbox pairing checks its map."""

    def refuse_ext(code: int, ext: bytes) -> object:
        raise RemoteProtocolError("the peer's version message holds a msgpack extension")

    try:
        fields = msgpack.unpackb(data, raw=False, ext_hook=refuse_ext, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise RemoteProtocolError("the peer's version message is malformed") from exc
    if not (
        isinstance(fields, list)
        and len(fields) == 4
        and isinstance(fields[3], list)
        and len(fields[3]) == 4
    ):
        raise RemoteProtocolError("the peer's version message is malformed")
    protocol, identity, ephemeral, (view_once, max_image, max_text, label) = fields
    caps = {
        "view_once": view_once,
        "max_image_bytes": max_image,
        "max_text_chars": max_text,
        "label": label,
    }
    mapped = msgpack.packb({"v": protocol, "id": identity, "eph": ephemeral, "caps": caps})
    return decode_version(bytes(mapped))
