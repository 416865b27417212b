"""The reconnect protocol's messages, keys and meeting points (no state).

``reconnect.Reconnect`` is the state machine; this module owns what it
puts on the wire and how it is checked: the version-2 hello, the signed
``ready`` / ``offer`` / ``answer`` payloads, the keys derived from the contact's
reconnect key, and the nameplates both sides compute to meet.

Why the payloads after the hello are signed over both fresh ephemerals: the
hello alone proves only that the identity key signed *some* ephemeral once, so
a recorded hello can be replayed. Each later message carries an Ed25519
signature over the phase, the sender's side, the receiver's fresh ephemeral,
the sender's ephemeral and the SDP hash, and is sealed under a key that also
needs ``X25519(eph, eph_peer)``: a replayed or forged message fails before this
side sends anything that holds an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgpack
import nacl.signing

from p2pchat.core import crypto
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake.steps import (
    MAX_SDP_BYTES,
    SIGNATURE_SIZE,
    check_sdp,
    decode_msgpack_map,
    hash_items,
    verify_signature,
)
from p2pchat.core.handshake.version import IDENTITY_KEY_SIZE, decode_capabilities
from p2pchat.core.keys import Capabilities

# Version 2: offer and answer wait for a verified hello and are signed (issue 19).
RECONNECT_VERSION: Final = 2
PHASE_HELLO: Final = "hello"
PHASE_READY: Final = "ready"
PHASE_OFFER: Final = "offer"
PHASE_ANSWER: Final = "answer"
PSK_SIZE: Final = 32
NAMEPLATE_DIGITS: Final = 12
MAX_HELLO_PLAINTEXT: Final = 2048
_PAYLOAD_OVERHEAD: Final = 128  # msgpack map, keys and the signature around the SDP
MAX_HELLO_BOXES: Final = 2  # under the current reconnect key, and under the previous one
MAX_SEALED: Final = {
    PHASE_HELLO: MAX_HELLO_BOXES * (MAX_HELLO_PLAINTEXT + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD)
    + 16,
    PHASE_READY: _PAYLOAD_OVERHEAD + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_OFFER: MAX_SDP_BYTES + _PAYLOAD_OVERHEAD + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_ANSWER: MAX_SDP_BYTES + _PAYLOAD_OVERHEAD + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
}
_HELLO_SIGNATURE_LABEL: Final = b"p2pchat/v2 reconnect hello"
_PROOF_LABEL: Final = b"p2pchat/v2 reconnect signed phase"
_SEALED_LABEL: Final = b"p2pchat/v2 reconnect after hello:"
_TRANSCRIPT_LABEL: Final = b"p2pchat/v2 reconnect transcript"
_NEXT_KEY_LABEL: Final = b"p2pchat/v2 reconnect next key"
_MEETING_KEY_LABEL: Final = b"p2pchat/v2 reconnect meeting key"
# The meeting point changes every window, so the mailbox operator cannot link a
# pair's meetings on different days and a squatter holds one point for one day at
# most. One day: both sides of a meeting are almost always in the same window, and
# the service also looks one window back and forward for a waiting contact.
MEETING_WINDOW_SECONDS: Final = 86_400
MEETING_ATTEMPTS: Final = 4  # how many fall-back points when one is squatted (crowded)


class IdentityMismatch(RemoteProtocolError):
    """The contact presented an identity key other than the pinned one."""

    reason = "identity_mismatch"

    def __init__(self, pinned_key: bytes, offered_key: bytes) -> None:
        super().__init__(
            "The contact presented a different identity key than the one pinned "
            f"(pinned {crypto.fingerprint(pinned_key)}, offered "
            f"{crypto.fingerprint(offered_key)}). The session was stopped."
        )
        self.pinned_key = pinned_key
        self.offered_key = offered_key


class NotTheContact(RemoteProtocolError):
    """A hello at the meeting point that this contact's reconnect key does not open.

    Someone else is at the meeting point (a squatter, or a stale stranger): the
    service moves to the next meeting point instead of giving up.
    """

    reason = "not_the_contact"


def check_psk(psk: object) -> bytes:
    """``psk`` if it is a reconnect key (PSK_SIZE bytes), else LocalProtocolError."""
    if not isinstance(psk, bytes) or len(psk) != PSK_SIZE:
        raise LocalProtocolError(f"a reconnect key is {PSK_SIZE} bytes")
    return psk


def psk_key(psk: bytes, purpose: str) -> bytes:
    return crypto.hkdf_sha256(psk, b"p2pchat/v1:reconnect:" + purpose.encode("ascii"))


def reconnect_transcript(
    hellos: tuple[bytes, bytes], offer_sdp: bytes, answer_sdp: bytes, appid: str
) -> bytes:
    """SHA-256 over length-prefixed items; hellos sorted so arrival order cannot matter."""
    return hash_items((_TRANSCRIPT_LABEL, *sorted(hellos), offer_sdp, answer_sdp, appid.encode()))


def meeting_key(psk: bytes) -> bytes:
    """The key meeting points are derived from: fixed at pairing, while the PSK ratchets.

    Both sides derive it from the pairing's PSK once and keep it, so they find the
    same meeting point even when one of them missed the last ratchet step.
    """
    return crypto.hkdf_sha256(check_psk(psk), _MEETING_KEY_LABEL)


def next_psk(psk: bytes, shared_secret: bytes, transcript: bytes) -> bytes:
    """The reconnect key after a meeting that bound: one-way, and needs that meeting's DH.

    Whoever later steals the new key can compute neither the old one nor this
    meeting's keys, and someone who stole the old key and did not take part in
    the meeting cannot follow.
    """
    return crypto.hkdf_sha256(psk + shared_secret, _NEXT_KEY_LABEL, transcript)


def meeting_window(now: float) -> int:
    """The number of the meeting window ``now`` (Unix seconds) falls in."""
    return int(now // MEETING_WINDOW_SECONDS)


def rendezvous_nameplate(psk: bytes, window: int, attempt: int = 0) -> str:
    """The 12-digit nameplate both sides of a contact claim in ``window``.

    Derived from the reconnect key, the window and the attempt (the next
    attempt is where both go when this one is squatted), so both compute it
    without talking, and someone without the key can neither predict it nor
    tell that two meetings in different windows were the same pair's. 12 digits
    keep it clear of the short nameplates servers allocate for codes.
    """
    check_psk(psk)
    if window < 0 or not 0 <= attempt < MEETING_ATTEMPTS:
        raise LocalProtocolError("no such meeting window or attempt")
    purpose = f"nameplate:{window}:{attempt}"
    number = int.from_bytes(psk_key(psk, purpose)[:8], "big")
    low = 10 ** (NAMEPLATE_DIGITS - 1)
    return str(low + number % (9 * low))


@dataclass(frozen=True)
class PeerHello:
    identity: bytes
    ephemeral: bytes
    capabilities: Capabilities


def hello_signed(ephemeral: bytes, side: str) -> bytes:
    return _HELLO_SIGNATURE_LABEL + ephemeral + side.encode("ascii")


def decode_hello(plaintext: bytes, side: str) -> PeerHello:
    """Check a hello's fields and its signature by the identity it names."""

    fields = decode_msgpack_map(plaintext, "the hello")
    version, identity = fields.get("v"), fields.get("id")
    ephemeral, signature = fields.get("eph"), fields.get("sig")
    if type(version) is not int or version != RECONNECT_VERSION:
        raise RemoteProtocolError(
            "The contact speaks another reconnect protocol version: both need the same "
            "p2pchat release series."
        )
    if not isinstance(identity, bytes) or len(identity) != IDENTITY_KEY_SIZE:
        raise RemoteProtocolError("the hello's identity key has the wrong size")
    if not isinstance(ephemeral, bytes) or len(ephemeral) != crypto.X25519_KEY_SIZE:
        raise RemoteProtocolError("the hello's ephemeral key has the wrong size")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise RemoteProtocolError("the hello's signature has the wrong size")
    if "caps" not in fields:
        raise RemoteProtocolError("the hello lacks the field 'caps'")
    capabilities = decode_capabilities(fields["caps"])
    verify_signature(
        identity,
        hello_signed(ephemeral, side),
        signature,
        "the contact's hello signature does not verify with its identity key",
    )
    return PeerHello(identity, ephemeral, capabilities)


def hello_key(psk: bytes, side: str) -> bytes:
    return crypto.phase_key(psk_key(psk, "phase"), side, PHASE_HELLO)


def seal_hello(
    psks: list[bytes], side: str, plaintext: bytes, random: crypto.RandomSource
) -> bytes:
    """Our hello, one box per reconnect key we hold (current first, then the previous)."""
    boxes = [crypto.seal(hello_key(psk, side), plaintext, random) for psk in psks]
    return bytes(msgpack.packb({"boxes": boxes}, use_bin_type=True))


def open_hello(psks: list[bytes], side: str, body: bytes) -> tuple[bytes, bytes]:
    """``(psk, plaintext)``: the newest of our keys that opens one of the peer's boxes.

    Both sides hold a key chain's last one or two links; the newest key both hold
    is the same whichever side looks, so both agree on it without a round trip.
    """
    stranger = NotTheContact(
        "Someone who does not hold this contact's reconnect key answered at the "
        "meeting point; the session was stopped."
    )
    try:
        boxes = decode_msgpack_map(body, "the hello").get("boxes")
    except RemoteProtocolError:
        raise stranger from None
    if (
        not isinstance(boxes, list)
        or not 0 < len(boxes) <= MAX_HELLO_BOXES
        or not all(isinstance(box, bytes) for box in boxes)
    ):
        raise stranger
    for psk in psks:
        for box in boxes:
            try:
                return psk, crypto.open_sealed(hello_key(psk, side), box)
            except DecryptError:
                continue
    raise stranger


def sealed_phase_key(psk: bytes, shared_secret: bytes, side: str, phase: str) -> bytes:
    """The key of one side's ``ready``/``offer``/``answer``: PSK *and* the fresh DH secret."""
    info = _SEALED_LABEL + crypto.sha256(side.encode()) + crypto.sha256(phase.encode())
    return crypto.hkdf_sha256(shared_secret + psk_key(psk, "phase"), info)


def _proof(phase: str, side: str, receiver_eph: bytes, sender_eph: bytes, sdp: bytes) -> bytes:
    return hash_items((_PROOF_LABEL, phase.encode(), side.encode(), receiver_eph, sender_eph, sdp))


def pack_signed(
    identity: nacl.signing.SigningKey,
    phase: str,
    side: str,
    receiver_eph: bytes,
    sender_eph: bytes,
    sdp: bytes,
) -> bytes:
    """The plaintext of a signed phase: the SDP (empty for ``ready``) and our signature."""
    signature = identity.sign(_proof(phase, side, receiver_eph, sender_eph, sdp)).signature
    return bytes(msgpack.packb({"sdp": sdp, "sig": bytes(signature)}, use_bin_type=True))


def open_signed(
    plaintext: bytes,
    peer_identity: bytes,
    phase: str,
    side: str,
    receiver_eph: bytes,
    sender_eph: bytes,
) -> bytes:
    """The SDP bytes of the peer's signed phase, once its signature over our ephemeral verified."""
    fields = decode_msgpack_map(plaintext, f"the {phase}")
    sdp, signature = fields.get("sdp"), fields.get("sig")
    if not isinstance(sdp, bytes) or not isinstance(signature, bytes):
        raise RemoteProtocolError(f"the {phase} lacks its SDP or signature")
    if len(signature) != SIGNATURE_SIZE:
        raise RemoteProtocolError(f"the {phase}'s signature has the wrong size")
    if (phase == PHASE_READY) != (not sdp):
        raise RemoteProtocolError(f"the {phase} carries the wrong content")
    verify_signature(
        peer_identity,
        _proof(phase, side, receiver_eph, sender_eph, sdp),
        signature,
        f"the contact's {phase} is not signed for this meeting by their pinned key "
        "(a replay, or someone holding only the reconnect key)",
    )
    if sdp:
        try:
            text = sdp.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(f"the {phase} SDP is not UTF-8") from exc
        check_sdp(text, RemoteProtocolError, phase)
    return sdp
