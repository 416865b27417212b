"""Reconnecting a pinned contact without a code: the sans-I/O handshake.

Both sides of an earlier pairing hold the same reconnect PSK (HKDF of that
pairing's PAKE key) and each other's pinned Ed25519 identity key. To meet again
(DESIGN.md section 3 point 7) they both claim a long nameplate derived from the
PSK (``rendezvous_nameplate``) and run this exchange, shaped like ``Pairing`` so
that the service drives either one the same way:

1. ``hello``: sealed with a key from the PSK (so the mailbox learns nothing, and
   only the contact can open it): protocol version, our identity key, a fresh
   X25519 ephemeral key, capabilities, and an Ed25519 signature over the
   ephemeral key and our side id. The identity must be the pinned one
   (``IdentityMismatch`` otherwise) and the signature must verify.
2. ``offer`` / ``answer``: the SDPs, sealed per side and phase with keys from the
   PSK. The side with the smaller side id offers.
3. bind (on the data channel): signature + MAC over the transcript hash (both
   hellos in sorted order, offer, answer, appid), exactly as in pairing. A
   replayed hello cannot complete it: the signature covers our fresh ephemeral.

Session keys: ``HKDF(X25519(eph, eph_peer) || K, salt=transcript, info=direction)``
with ``K`` derived from the PSK: fresh ephemerals give forward secrecy per
session. The PSK itself stays the same (both sides keep it; no ratchet to fall
out of step). The first failure is final, as in ``Pairing``.
"""

from __future__ import annotations

import enum
import hmac
import os
from dataclasses import dataclass
from typing import Final

import msgpack
import nacl.signing

from p2pchat.core import crypto, handshake
from p2pchat.core.errors import DecryptError, LocalProtocolError, P2PChatError, RemoteProtocolError
from p2pchat.core.handshake import (
    MAX_SDP_BYTES,
    SIGNATURE_SIZE,
    decode_msgpack_map,
    hash_items,
    new_ephemeral,
    open_sdp,
    session_keys,
    validate_side,
    verify_bind,
    verify_signature,
)
from p2pchat.core.keys import Capabilities, Role, SessionKeys
from p2pchat.core.pairing import (
    APPID,
    IDENTITY_KEY_SIZE,
    Outgoing,
    decode_capabilities,
    encode_capabilities,
)

RECONNECT_VERSION: Final = 1
PHASE_HELLO: Final = "hello"
PHASE_OFFER: Final = "offer"
PHASE_ANSWER: Final = "answer"
PSK_SIZE: Final = 32
NAMEPLATE_DIGITS: Final = 12
MAX_HELLO_PLAINTEXT: Final = 2048
_MAX_SEALED: Final = {
    PHASE_HELLO: MAX_HELLO_PLAINTEXT + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_OFFER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_ANSWER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
}
_HELLO_SIGNATURE_LABEL: Final = b"p2pchat/v1 reconnect hello"
_BIND_LABEL: Final = b"p2pchat/v1 reconnect bind"
_TRANSCRIPT_LABEL: Final = b"p2pchat/v1 reconnect transcript"


class IdentityMismatch(RemoteProtocolError):
    """The contact presented an identity key other than the pinned one."""

    def __init__(self, pinned_key: bytes, offered_key: bytes) -> None:
        super().__init__(
            "The contact presented a different identity key than the one pinned "
            f"(pinned {crypto.fingerprint(pinned_key)}, offered "
            f"{crypto.fingerprint(offered_key)}). The session was stopped."
        )
        self.pinned_key = pinned_key
        self.offered_key = offered_key


def _psk_key(psk: bytes, purpose: str) -> bytes:
    return crypto.hkdf_sha256(psk, b"p2pchat/v1:reconnect:" + purpose.encode("ascii"))


def rendezvous_nameplate(psk: bytes) -> str:
    """The 12-digit nameplate both sides of a contact claim to meet again.

    Derived from the PSK alone, so both compute it without talking; 12 digits
    keep it clear of the short nameplates servers allocate for codes. It is the
    same every time (a date in it would split the two sides around midnight), so
    the mailbox server can tell that the same pair met again, as it can from
    their IP addresses anyway.
    """
    check_psk(psk)
    number = int.from_bytes(_psk_key(psk, "nameplate")[:8], "big")
    low = 10 ** (NAMEPLATE_DIGITS - 1)
    return str(low + number % (9 * low))


def check_psk(psk: object) -> bytes:
    """``psk`` if it is a reconnect key (PSK_SIZE bytes), else LocalProtocolError."""
    if not isinstance(psk, bytes) or len(psk) != PSK_SIZE:
        raise LocalProtocolError(f"a reconnect key is {PSK_SIZE} bytes")
    return psk


class ReconnectState(enum.Enum):
    IDLE = "idle"
    SENT_HELLO = "sent-hello"  # waiting for the peer's hello (the offerer may already offer)
    MUST_OFFER = "must-offer"
    AWAIT_OFFER = "await-offer"
    AWAIT_ANSWER = "await-answer"
    MUST_ANSWER = "must-answer"
    SDP_DONE = "sdp-done"
    PAIRED = "paired"
    FAILED = "failed"


@dataclass(frozen=True)
class PeerHello:
    identity: bytes
    ephemeral: bytes
    capabilities: Capabilities


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
        _hello_signed(ephemeral, side),
        signature,
        "the contact's hello signature does not verify with its identity key",
    )
    return PeerHello(identity, ephemeral, capabilities)


def _hello_signed(ephemeral: bytes, side: str) -> bytes:
    return _HELLO_SIGNATURE_LABEL + ephemeral + side.encode("ascii")


def reconnect_transcript(
    hellos: tuple[bytes, bytes], offer_sdp: bytes, answer_sdp: bytes, appid: str
) -> bytes:
    """SHA-256 over length-prefixed items; hellos sorted so arrival order cannot matter."""
    return hash_items((_TRANSCRIPT_LABEL, *sorted(hellos), offer_sdp, answer_sdp, appid.encode()))


_S = ReconnectState


class Reconnect:
    """One side of one reconnect attempt with one pinned contact. Single use.

    ``peer_side`` may be given when both sides' ids are fixed in advance (no
    mailbox handing them out); the role is then known at once and the offerer may
    seal its offer before the peer's hello arrives. The copy-paste meeting has
    its own, more compact exchange: ``core.manual_pinned``.
    """

    def __init__(
        self,
        psk: bytes,
        side: str,
        identity: nacl.signing.SigningKey,
        pinned_peer_identity: bytes,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        peer_side: str | None = None,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        self._psk = check_psk(psk)
        self.side = validate_side(side, LocalProtocolError, "our side id")
        if not isinstance(pinned_peer_identity, bytes) or len(pinned_peer_identity) != 32:
            raise LocalProtocolError("the pinned identity key must be 32 bytes")
        if not appid:
            raise LocalProtocolError("appid must not be empty")
        self.appid = appid
        self._identity = identity
        self._pinned = pinned_peer_identity
        self._capabilities = capabilities
        self._random = random
        self._ephemeral_private = new_ephemeral(random)
        self._peer_side: str | None = None
        self.role: Role | None = None
        if peer_side is not None:
            self._set_peer_side(validate_side(peer_side, LocalProtocolError, "the peer's side id"))
        self._state = _S.IDLE
        self._own_hello = b""
        self._peer_hello_plaintext = b""
        self._peer_hello: PeerHello | None = None
        self._shared_secret = b""
        self._offer_sdp: bytes | None = None
        self._answer_sdp: bytes | None = None
        self.remote_sdp: str | None = None
        self.safety_number: str | None = None

    # --- state ------------------------------------------------------------------

    @property
    def state(self) -> ReconnectState:
        return self._state

    @property
    def peer_identity(self) -> bytes | None:
        return self._peer_hello.identity if self._peer_hello else None

    @property
    def peer_capabilities(self) -> Capabilities | None:
        return self._peer_hello.capabilities if self._peer_hello else None

    def _set_peer_side(self, peer_side: str) -> None:
        if peer_side == self.side:
            raise RemoteProtocolError("a message claims to come from our own side")
        self._peer_side = peer_side
        self.role = "offerer" if self.side < peer_side else "answerer"

    def _fail(self) -> None:
        self._state = _S.FAILED
        self._shared_secret = b""

    def _require_usable(self) -> None:
        if self._state is _S.FAILED:
            raise LocalProtocolError("This reconnect attempt has failed; start a new one.")

    def _after_hello_and_sdp(self) -> None:
        """Move on once what this role needs is known (hello, and the SDPs so far)."""
        if self._peer_hello is None:
            return
        if self._offer_sdp is not None and self._answer_sdp is not None:
            self._state = _S.SDP_DONE
        elif self.role == "offerer":
            self._state = _S.AWAIT_ANSWER if self._offer_sdp is not None else _S.MUST_OFFER
        else:
            self._state = _S.MUST_ANSWER if self._offer_sdp is not None else _S.AWAIT_OFFER

    # --- mailbox phases -----------------------------------------------------------

    def start(self) -> list[Outgoing]:
        """Our hello; call once, first."""
        self._require_usable()
        if self._state is not _S.IDLE:
            raise LocalProtocolError("start() may only be called once")
        ephemeral = crypto.x25519_public(self._ephemeral_private)
        self._own_hello = msgpack.packb(
            {
                "v": RECONNECT_VERSION,
                "id": bytes(self._identity.verify_key),
                "eph": ephemeral,
                "sig": self._identity.sign(_hello_signed(ephemeral, self.side)).signature,
                "caps": encode_capabilities(self._capabilities),
            },
            use_bin_type=True,
        )
        if len(self._own_hello) > MAX_HELLO_PLAINTEXT:
            raise LocalProtocolError("our capabilities are too large (shorten the label)")
        sealed = crypto.seal(self._phase_key(self.side, PHASE_HELLO), self._own_hello, self._random)
        self._state = _S.SENT_HELLO
        return [Outgoing(PHASE_HELLO, sealed)]

    def receive(self, phase: str, side: str, body: bytes) -> list[Outgoing]:
        """One message of the other side. ``IdentityMismatch`` for a changed key,
        ``RemoteProtocolError`` for anything else wrong; after either, this is dead."""
        self._require_usable()
        if self._state is _S.IDLE:
            raise LocalProtocolError("call start() before receive()")
        try:
            self._receive(phase, side, body)
        except P2PChatError:
            self._fail()
            raise
        return []

    def _receive(self, phase: object, side: object, body: object) -> None:
        if not isinstance(phase, str) or phase not in _MAX_SEALED:
            raise RemoteProtocolError("unknown reconnect phase")
        peer_side = validate_side(side, RemoteProtocolError, "the peer's side id")
        if self._peer_side is None:
            self._set_peer_side(peer_side)
        elif peer_side != self._peer_side:
            raise RemoteProtocolError("a third side spoke in the mailbox")
        if not isinstance(body, bytes):
            raise RemoteProtocolError(f"the {phase} body must be bytes")
        if len(body) > _MAX_SEALED[phase]:
            raise RemoteProtocolError(f"the {phase} message is too large")
        if phase == PHASE_HELLO:
            if self._peer_hello is not None:
                raise RemoteProtocolError("a second hello (repeated or replayed)")
            self._receive_hello(body)
        elif phase == PHASE_OFFER:
            if self.role != "answerer" or self._offer_sdp is not None:
                raise RemoteProtocolError("unexpected offer (wrong role, repeated or replayed)")
            self._offer_sdp = self._open_sdp(phase, body)
        else:
            if self.role != "offerer" or self._offer_sdp is None or self._answer_sdp is not None:
                raise RemoteProtocolError("unexpected answer (before our offer, or repeated)")
            self._answer_sdp = self._open_sdp(phase, body)
        self._after_hello_and_sdp()

    def _receive_hello(self, body: bytes) -> None:
        assert self._peer_side is not None
        try:
            plaintext = crypto.open_sealed(self._phase_key(self._peer_side, PHASE_HELLO), body)
        except DecryptError as exc:
            raise RemoteProtocolError(
                "Someone who does not hold this contact's reconnect key answered at the "
                "meeting point; the session was stopped."
            ) from exc
        hello = decode_hello(plaintext, self._peer_side)
        if not hmac.compare_digest(hello.identity, self._pinned):
            raise IdentityMismatch(self._pinned, hello.identity)
        self._shared_secret = crypto.x25519(self._ephemeral_private, hello.ephemeral)
        self._peer_hello = hello
        self._peer_hello_plaintext = plaintext
        self.safety_number = crypto.safety_number(bytes(self._identity.verify_key), hello.identity)

    def _open_sdp(self, phase: str, body: bytes) -> bytes:
        assert self._peer_side is not None
        plaintext, self.remote_sdp = open_sdp(self._phase_key(self._peer_side, phase), body, phase)
        return plaintext

    def _phase_key(self, side: str, phase: str) -> bytes:
        return crypto.phase_key(_psk_key(self._psk, "phase"), side, phase)

    def seal_sdp(self, sdp: str) -> Outgoing:
        """Our offer (offerer: once the role is known) or answer (after the offer)."""
        self._require_usable()
        if self._state is _S.IDLE or self.role is None:
            raise LocalProtocolError("seal_sdp() needs start() and a known peer side")
        if self.role == "offerer" and self._offer_sdp is None:
            phase = PHASE_OFFER
        elif self.role == "answerer" and self._offer_sdp is not None and self._answer_sdp is None:
            phase = PHASE_ANSWER
        else:
            raise LocalProtocolError(f"seal_sdp() is not allowed now (we are the {self.role})")
        encoded, sealed = handshake.seal_sdp(
            self._phase_key(self.side, phase), sdp, phase, self._random
        )
        if phase == PHASE_OFFER:
            self._offer_sdp = encoded
        else:
            self._answer_sdp = encoded
        self._after_hello_and_sdp()
        return Outgoing(phase, sealed)

    # --- bind ---------------------------------------------------------------------

    def transcript(self) -> bytes:
        if self._state not in (_S.SDP_DONE, _S.PAIRED):
            raise LocalProtocolError("the transcript is complete only after hello, offer, answer")
        assert self._offer_sdp is not None and self._answer_sdp is not None
        return reconnect_transcript(
            (self._own_hello, self._peer_hello_plaintext),
            self._offer_sdp,
            self._answer_sdp,
            self.appid,
        )

    def bind_message(self) -> bytes:
        """Signature (64) || MAC (32) over label || transcript || our side."""
        self._require_usable()
        return handshake.bind_message(
            self._identity, _psk_key(self._psk, "bind"), _BIND_LABEL, self.transcript(), self.side
        )

    def transit_key(self) -> bytes:
        """The key of the transit relay token; bound to the transcript, so a relay
        cannot tell that two sessions are the same two people."""
        self._require_usable()
        return crypto.hkdf_sha256(_psk_key(self._psk, "transit"), b"transit:" + self.transcript())

    def receive_bind(self, data: bytes) -> SessionKeys:
        self._require_usable()
        if self._state is not _S.SDP_DONE:
            raise LocalProtocolError("receive_bind() is allowed once, after offer and answer")
        try:
            return self._verify_bind(data)
        except P2PChatError:
            self._fail()
            raise

    def _verify_bind(self, data: object) -> SessionKeys:
        assert self._peer_side is not None and self._peer_hello is not None
        assert self.role is not None and self.safety_number is not None
        transcript = self.transcript()
        verify_bind(
            data,
            peer_identity=self._peer_hello.identity,
            mac_key=_psk_key(self._psk, "bind"),
            label=_BIND_LABEL,
            transcript=transcript,
            peer_side=self._peer_side,
            peer="the contact",
            attempt="session",
        )
        keys = session_keys(
            role=self.role,
            shared_secret=self._shared_secret,
            stream_ikm=_psk_key(self._psk, "stream"),
            transcript=transcript,
            safety_number=self.safety_number,
            peer_identity=self._peer_hello.identity,
            peer_capabilities=self._peer_hello.capabilities,
            reconnect_psk=self._psk,
        )
        self._state = _S.PAIRED
        return keys
