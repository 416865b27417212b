"""The stateless steps every handshake shares: side ids, strict msgpack, sealed SDPs, bind.

``pairing.Pairing`` (code + mailbox), ``reconnect.Reconnect`` (pinned contact),
``manual.ManualPairing`` and ``manual_pinned.ManualReconnect`` (copy-paste) differ
in how they reach a shared key; the checks and derivations they all use live
here, so that a fix to one reaches all four. Nothing here holds state: the order
of the steps and what is kept between them is ``skeleton.Handshake``'s.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import msgpack
import nacl.exceptions
import nacl.signing

from p2pchat.core import crypto
from p2pchat.core.appid import APPID as APPID  # the mailbox namespace, kept light
from p2pchat.core.errors import LocalProtocolError, P2PChatError, RemoteProtocolError
from p2pchat.core.keys import Capabilities, Channel, Role, SessionKeys

SIGNATURE_SIZE: Final = 64
MAC_SIZE: Final = 32
BIND_MESSAGE_SIZE: Final = SIGNATURE_SIZE + MAC_SIZE
MAX_SIDE_CHARS: Final = 64  # magic-wormhole sides are 10 hex digits
MAX_SDP_BYTES: Final = 64 * 1024  # a full-candidate aiortc SDP is a few KiB


@dataclass(frozen=True)
class Outgoing:
    """One message for the mailbox: ``add(phase, body)``."""

    phase: str
    body: bytes


def validate_side(side: object, error: type[P2PChatError], what: str) -> str:
    """``side`` as a side id; ``error`` naming ``what`` (e.g. "our side id") otherwise."""
    if (
        not isinstance(side, str)
        or not 0 < len(side) <= MAX_SIDE_CHARS
        or not side.isascii()
        or not side.isprintable()
    ):
        raise error(f"{what} must be 1-{MAX_SIDE_CHARS} printable ASCII characters")
    return side


def new_ephemeral(random: crypto.RandomSource) -> bytes:
    """A fresh X25519 private key, refusing a random source that returns short reads."""
    private = random(crypto.X25519_KEY_SIZE)
    if len(private) != crypto.X25519_KEY_SIZE:
        raise LocalProtocolError("the random source returned the wrong number of bytes")
    return private


def other_role(role: Role) -> Role:
    return "answerer" if role == "offerer" else "offerer"


def decode_msgpack_map(data: bytes, what: str) -> dict[str, object]:
    """Strict msgpack: one map with str keys, no extension types.

    msgpack caps every declared length at ``len(data)``, so nothing is allocated
    beyond what was received.
    """

    def refuse_ext(code: int, payload: bytes) -> object:
        raise RemoteProtocolError(f"{what} contains a msgpack extension type")

    try:
        decoded = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=refuse_ext,
        )
    except RemoteProtocolError:
        raise
    except (ValueError, msgpack.UnpackException) as exc:  # ExtraData, FormatError, StackError...
        raise RemoteProtocolError(f"{what} is not valid msgpack") from exc
    if not isinstance(decoded, dict):
        raise RemoteProtocolError(f"{what} must be a msgpack map")
    return decoded


def hash_items(items: Iterable[bytes]) -> bytes:
    """SHA-256 over length-prefixed items, so no item can run into the next."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(struct.pack(">Q", len(item)))
        digest.update(item)
    return digest.digest()


def stream_label(sender: Role, channel: Channel) -> str:
    """``offerer->answerer/control``: the HKDF info of one direction of one channel."""
    return f"{sender}->{other_role(sender)}/{channel.name.lower()}"


# --- sealed SDPs (mailbox phases ``offer`` and ``answer``) ------------------------------


def check_sdp(sdp: str, error: type[P2PChatError], phase: str) -> None:
    if not sdp:
        raise error(f"the {phase} SDP must not be empty")
    if len(sdp.encode("utf-8", "surrogatepass")) > MAX_SDP_BYTES:
        raise error(f"the {phase} SDP is larger than {MAX_SDP_BYTES} bytes")
    if "\x00" in sdp:
        raise error(f"the {phase} SDP contains a NUL character")


def seal_sdp(key: bytes, sdp: str, phase: str, random: crypto.RandomSource) -> tuple[bytes, bytes]:
    """``(encoded, sealed)``: our checked SDP as the transcript holds it, and as sent."""
    try:
        encoded = sdp.encode("utf-8")
    except (AttributeError, UnicodeEncodeError) as exc:
        raise LocalProtocolError(f"the {phase} SDP must be valid text") from exc
    check_sdp(sdp, LocalProtocolError, phase)
    return encoded, crypto.seal(key, encoded, random)


def open_sdp(key: bytes, body: bytes, phase: str) -> tuple[bytes, str]:
    """``(plaintext, sdp)`` of the peer's sealed SDP, checked like our own."""
    plaintext = crypto.open_sealed(key, body)
    try:
        sdp = plaintext.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"the {phase} SDP is not UTF-8") from exc
    check_sdp(sdp, RemoteProtocolError, phase)
    return plaintext, sdp


# --- bind (over the data channel) -------------------------------------------------------


def verify_signature(identity: bytes, signed: bytes, signature: bytes, message: str) -> None:
    """``RemoteProtocolError(message)`` unless ``identity`` signed ``signed``."""
    try:
        nacl.signing.VerifyKey(identity).verify(signed, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError) as exc:
        raise RemoteProtocolError(message) from exc


def bind_message(
    identity: nacl.signing.SigningKey, mac_key: bytes, label: bytes, transcript: bytes, side: str
) -> bytes:
    """Signature (64) || MAC (32) over label || transcript || our side."""
    data = label + transcript + side.encode("ascii")
    return bytes(identity.sign(data).signature) + crypto.mac(mac_key, data)


def verify_bind(
    data: object,
    *,
    peer_identity: bytes,
    mac_key: bytes,
    label: bytes,
    transcript: bytes,
    peer_side: str,
    peer: str,
    attempt: str,
) -> None:
    """Check the peer's ``bind_message``; ``peer`` and ``attempt`` word the errors."""
    if not isinstance(data, bytes) or len(data) != BIND_MESSAGE_SIZE:
        raise RemoteProtocolError(f"the bind message must be {BIND_MESSAGE_SIZE} bytes")
    signed = label + transcript + peer_side.encode("ascii")
    signature, tag = data[:SIGNATURE_SIZE], data[SIGNATURE_SIZE:]
    if not hmac.compare_digest(tag, crypto.mac(mac_key, signed)):
        raise RemoteProtocolError(f"{peer}'s bind MAC does not match this {attempt}")
    verify_signature(
        peer_identity,
        signed,
        signature,
        f"{peer}'s bind signature does not verify with the identity it announced",
    )


def session_keys(
    *,
    role: Role,
    shared_secret: bytes,
    stream_ikm: bytes,
    transcript: bytes,
    safety_number: str,
    peer_identity: bytes,
    peer_capabilities: Capabilities,
    reconnect_psk: bytes,
    previous_psk: bytes = b"",
) -> SessionKeys:
    """One key per direction and channel: HKDF(X25519 secret || ``stream_ikm``, transcript)."""

    def key(sender: Role, channel: Channel) -> bytes:
        return crypto.session_key(
            shared_secret, stream_ikm, transcript, stream_label(sender, channel)
        )

    return SessionKeys(
        role=role,
        send_keys={channel: key(role, channel) for channel in Channel},
        recv_keys={channel: key(other_role(role), channel) for channel in Channel},
        transcript=transcript,
        safety_number=safety_number,
        peer_identity=peer_identity,
        peer_capabilities=peer_capabilities,
        reconnect_psk=reconnect_psk,
        previous_psk=previous_psk,
    )
