"""What a side says about itself in a handshake: protocol version, identity, ephemeral, caps.

The mailbox pairing sends it as the sealed ``version`` map; both copy-paste
handshakes send the same fields as a positional list (``pack_version``: key
names would be a fifth of a blob); the reconnect hello carries the same
capabilities. All of them are checked here, by the one decoder, so a peer's
capabilities mean the same whichever handshake brought them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgpack

from p2pchat.core import crypto
from p2pchat.core.errors import RemoteProtocolError
from p2pchat.core.handshake.steps import decode_msgpack_map
from p2pchat.core.keys import Capabilities
from p2pchat.core.labels import MAX_LABEL_BYTES, read_peer_label

PROTOCOL_VERSION: Final = 1
IDENTITY_KEY_SIZE: Final = 32
MAX_CAPABILITY_LABEL_BYTES: Final = MAX_LABEL_BYTES  # labels.read_peer_label checks it
_MAX_LIMIT_VALUE: Final = 2**53  # capability limits are sizes; anything above is nonsense


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


@dataclass(frozen=True)
class PeerVersion:
    """The peer's verified ``version`` message."""

    protocol: int
    identity: bytes
    ephemeral: bytes
    capabilities: Capabilities


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
    return PeerVersion(protocol, identity, ephemeral, decode_capabilities(fields["caps"]))


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
