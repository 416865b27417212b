"""The pairing state machine: code -> PAKE key -> sealed version -> offer/answer -> bind.

Sans-I/O (the h11 model): ``Pairing`` takes the other side's mailbox messages and
returns the messages to send; the network layer carries them. The steps (DESIGN.md
section 3):

1. ``pake``: both sides send a SPAKE2_Symmetric message keyed by the code.
2. ``version``: sealed with a per-side, per-phase key from the PAKE key; it opens
   only if both used the same code, so a failure to open is ``WrongCode`` and this
   object never emits anything again. Carries the protocol version, the Ed25519
   identity key, a fresh X25519 ephemeral key and the capabilities.
3. ``offer`` / ``answer``: the SDPs, sealed per phase. The side with the smaller
   side id offers.
4. bind (on the data channel): an Ed25519 signature and a MAC over the canonical
   transcript hash. Only a verified bind yields ``SessionKeys``.

Every byte from the peer is validated (types, sizes, order); any violation is a
``RemoteProtocolError`` (``WrongCode`` for a version that does not open), and the
first failure is final. All state changes go through the one ``_TRANSITIONS`` table.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import msgpack
import nacl.signing
import spake2

from p2pchat.core import crypto, handshake
from p2pchat.core.codes import parse as parse_code
from p2pchat.core.errors import (
    DecryptError,
    LocalProtocolError,
    P2PChatError,
    RemoteProtocolError,
    WrongCode,
)
from p2pchat.core.handshake import (
    decode_msgpack_map,
    hash_items,
    new_ephemeral,
    open_sdp,
    session_keys,
    validate_side,
    verify_bind,
)
from p2pchat.core.keys import Capabilities, Role, SessionKeys
from p2pchat.core.labels import MAX_LABEL_BYTES, read_peer_label

APPID: Final = "p2pchat/v1"  # the mailbox application id and the PAKE binding (once)
PROTOCOL_VERSION: Final = 1

PHASE_PAKE: Final = "pake"
PHASE_VERSION: Final = "version"
PHASE_OFFER: Final = "offer"
PHASE_ANSWER: Final = "answer"
PHASES: Final = (PHASE_PAKE, PHASE_VERSION, PHASE_OFFER, PHASE_ANSWER)

PAKE_MESSAGE_SIZE: Final = 33  # spake2's side byte b"S" + one Ed25519 group element
IDENTITY_KEY_SIZE: Final = 32
# Defined with the steps all handshakes share; still importable from here.
SIGNATURE_SIZE: Final = handshake.SIGNATURE_SIZE
MAC_SIZE: Final = handshake.MAC_SIZE
BIND_MESSAGE_SIZE: Final = handshake.BIND_MESSAGE_SIZE
MAX_SIDE_CHARS: Final = handshake.MAX_SIDE_CHARS
MAX_SDP_BYTES: Final = handshake.MAX_SDP_BYTES
stream_label = handshake.stream_label
MAX_VERSION_PLAINTEXT: Final = 2048
MAX_CAPABILITY_LABEL_BYTES: Final = MAX_LABEL_BYTES  # labels.read_peer_label checks it
_MAX_SEALED = {
    PHASE_VERSION: MAX_VERSION_PLAINTEXT + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_OFFER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_ANSWER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
}
_MAX_LIMIT_VALUE: Final = 2**53  # capability limits are sizes; anything above is nonsense
_BIND_LABEL: Final = b"p2pchat/v1 bind"
_SPAKE_SIDE_SYMMETRIC: Final = b"S"


@dataclass(frozen=True)
class Outgoing:
    """One message for the mailbox: ``add(phase, body)``."""

    phase: str
    body: bytes


class PairingState(enum.Enum):
    IDLE = "idle"  # created, start() not called yet
    SENT_PAKE = "sent-pake"  # waiting for the peer's pake message
    SENT_VERSION = "sent-version"  # PAKE key known, waiting for the peer's sealed version
    MUST_OFFER = "must-offer"  # version verified, we offer: the caller must seal_sdp(offer)
    AWAIT_OFFER = "await-offer"  # version verified, we answer: waiting for the offer
    AWAIT_ANSWER = "await-answer"  # offer sent, waiting for the answer
    MUST_ANSWER = "must-answer"  # offer received: the caller must seal_sdp(answer)
    SDP_DONE = "sdp-done"  # both SDPs known: exchange bind messages on the data channel
    PAIRED = "paired"  # the peer's bind verified; session keys handed out
    FAILED = "failed"  # wrong code or protocol violation: terminal, nothing more is sent


class _Event(enum.Enum):
    START = "start"
    PAKE_RECEIVED = "pake-received"
    VERIFIED_AS_OFFERER = "verified-as-offerer"
    VERIFIED_AS_ANSWERER = "verified-as-answerer"
    OFFER_SENT = "offer-sent"
    OFFER_RECEIVED = "offer-received"
    ANSWER_SENT = "answer-sent"
    ANSWER_RECEIVED = "answer-received"
    BIND_VERIFIED = "bind-verified"


_S = PairingState
_E = _Event
# The one place where the order of pairing is written down.
_TRANSITIONS: Final[Mapping[PairingState, Mapping[_Event, PairingState]]] = {
    _S.IDLE: {_E.START: _S.SENT_PAKE},
    _S.SENT_PAKE: {_E.PAKE_RECEIVED: _S.SENT_VERSION},
    _S.SENT_VERSION: {
        _E.VERIFIED_AS_OFFERER: _S.MUST_OFFER,
        _E.VERIFIED_AS_ANSWERER: _S.AWAIT_OFFER,
    },
    _S.MUST_OFFER: {_E.OFFER_SENT: _S.AWAIT_ANSWER},
    _S.AWAIT_ANSWER: {_E.ANSWER_RECEIVED: _S.SDP_DONE},
    _S.AWAIT_OFFER: {_E.OFFER_RECEIVED: _S.MUST_ANSWER},
    _S.MUST_ANSWER: {_E.ANSWER_SENT: _S.SDP_DONE},
    _S.SDP_DONE: {_E.BIND_VERIFIED: _S.PAIRED},
    _S.PAIRED: {},
    _S.FAILED: {},
}
# Which events an incoming phase may cause; the table above decides if it is due now.
_EVENTS_FOR_PHASE: Final[Mapping[str, tuple[_Event, ...]]] = {
    PHASE_PAKE: (_E.PAKE_RECEIVED,),
    PHASE_VERSION: (_E.VERIFIED_AS_OFFERER, _E.VERIFIED_AS_ANSWERER),
    PHASE_OFFER: (_E.OFFER_RECEIVED,),
    PHASE_ANSWER: (_E.ANSWER_RECEIVED,),
}


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


def transcript_hash(
    pake_messages: tuple[bytes, bytes],
    version_plaintexts: tuple[bytes, bytes],
    offer_sdp: bytes,
    answer_sdp: bytes,
    appid: str,
) -> bytes:
    """SHA-256 over length-prefixed items in a fixed order, the same on both sides.

    Pairs are sorted so that who-sent-first (arrival order) cannot matter; the
    offer and answer are already ordered by role.
    """
    return hash_items(
        [
            *sorted(pake_messages),
            *sorted(version_plaintexts),
            offer_sdp,
            answer_sdp,
            appid.encode("utf-8"),
        ]
    )


class Pairing:
    """One side of one pairing attempt. Single use: a failure is final."""

    def __init__(
        self,
        code: str,
        side: str,
        identity: nacl.signing.SigningKey,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        # Canonical form, so "7 Word word word" and "7-word-word-word" agree.
        self._password = str(parse_code(code)).encode("ascii")
        self.side = validate_side(side, LocalProtocolError, "our mailbox side id")
        if not appid:
            raise LocalProtocolError("appid must not be empty")
        self.appid = appid
        self._identity = identity
        self._capabilities = capabilities
        self._random = random
        self._state = PairingState.IDLE
        self._spake = spake2.SPAKE2_Symmetric(
            self._password, idSymmetric=appid.encode("utf-8"), entropy_f=random
        )
        self._ephemeral_private = new_ephemeral(random)
        self._peer_side: str | None = None
        self._pake_key: bytes | None = None
        self._own_pake = b""
        self._peer_pake = b""
        self._own_version = b""
        self._peer_version_plaintext = b""
        self._peer_version: PeerVersion | None = None
        self._shared_secret = b""
        self._offer_sdp: bytes | None = None
        self._answer_sdp: bytes | None = None
        self._safety_number: str | None = None
        self.role: Role | None = None
        self.remote_sdp: str | None = None

    # --- state -----------------------------------------------------------------------

    @property
    def state(self) -> PairingState:
        return self._state

    def _transition(self, event: _Event) -> None:
        self._state = _TRANSITIONS[self._state][event]

    def _fail(self) -> None:
        self._state = PairingState.FAILED
        # Drop secrets we will never need again.
        self._pake_key = None
        self._shared_secret = b""

    def _require_usable(self) -> None:
        if self._state is PairingState.FAILED:
            raise LocalProtocolError(
                "This pairing attempt has failed; start again with a new code."
            )

    # --- public properties -----------------------------------------------------------

    @property
    def peer_identity(self) -> bytes | None:
        return self._peer_version.identity if self._peer_version else None

    @property
    def peer_capabilities(self) -> Capabilities | None:
        return self._peer_version.capabilities if self._peer_version else None

    @property
    def safety_number(self) -> str | None:
        return self._safety_number

    # --- mailbox phases --------------------------------------------------------------

    def start(self) -> list[Outgoing]:
        """Our pake message; call once, before feeding anything to ``receive``."""
        self._require_usable()
        if _E.START not in _TRANSITIONS[self._state]:
            raise LocalProtocolError("start() may only be called once")
        self._own_pake = bytes(self._spake.start())
        self._transition(_E.START)
        return [Outgoing(PHASE_PAKE, self._own_pake)]

    def receive(self, phase: str, side: str, body: bytes) -> list[Outgoing]:
        """One message of the *other* side; returns what to send in reply.

        Raises ``WrongCode`` when the version does not open, ``RemoteProtocolError``
        for anything malformed or out of order; after either, this object is dead.
        """
        self._require_usable()
        if self._state is PairingState.IDLE:
            raise LocalProtocolError("call start() before receive()")
        try:
            return self._receive(phase, side, body)
        except P2PChatError:
            self._fail()
            raise

    def _receive(self, phase: object, side: object, body: object) -> list[Outgoing]:
        if not isinstance(phase, str) or phase not in _EVENTS_FOR_PHASE:
            raise RemoteProtocolError("unknown pairing phase")
        peer_side = validate_side(side, RemoteProtocolError, "peer mailbox side id")
        if peer_side == self.side:
            raise RemoteProtocolError("a message claims to come from our own side")
        if self._peer_side is not None and peer_side != self._peer_side:
            raise RemoteProtocolError("a third side spoke in the mailbox")
        if not isinstance(body, bytes):
            raise RemoteProtocolError(f"the {phase} body must be bytes")
        allowed = _TRANSITIONS[self._state]
        if not any(event in allowed for event in _EVENTS_FOR_PHASE[phase]):
            raise RemoteProtocolError(
                f"unexpected {phase} message while {self._state.value} "
                "(out of order, repeated or replayed)"
            )
        if phase == PHASE_PAKE:
            return self._receive_pake(peer_side, body)
        if len(body) > _MAX_SEALED[phase]:
            raise RemoteProtocolError(f"the {phase} message is too large")
        if phase == PHASE_VERSION:
            self._receive_version(body)
        elif phase == PHASE_OFFER:
            self._offer_sdp = self._open_sdp(PHASE_OFFER, body)
            self._transition(_E.OFFER_RECEIVED)
        else:
            self._answer_sdp = self._open_sdp(PHASE_ANSWER, body)
            self._transition(_E.ANSWER_RECEIVED)
        return []

    def _receive_pake(self, peer_side: str, body: bytes) -> list[Outgoing]:
        if len(body) != PAKE_MESSAGE_SIZE or body[:1] != _SPAKE_SIDE_SYMMETRIC:
            raise RemoteProtocolError("the pake message has the wrong size or form")
        if body == self._own_pake:
            raise RemoteProtocolError("our own pake message was reflected back")
        try:
            pake_key = bytes(self._spake.finish(body))
        except Exception as exc:  # spake2 raises its own errors and ValueError/AssertionError
            raise RemoteProtocolError("the pake message is not a valid group element") from exc
        self._peer_side = peer_side
        self._peer_pake = body
        self._pake_key = pake_key
        self._own_version = msgpack.packb(
            {
                "v": PROTOCOL_VERSION,
                "id": bytes(self._identity.verify_key),
                "eph": crypto.x25519_public(self._ephemeral_private),
                "caps": encode_capabilities(self._capabilities),
            },
            use_bin_type=True,
        )
        if len(self._own_version) > MAX_VERSION_PLAINTEXT:
            raise LocalProtocolError("our capabilities are too large (shorten the label)")
        sealed = crypto.seal(
            crypto.phase_key(pake_key, self.side, PHASE_VERSION), self._own_version, self._random
        )
        self._transition(_E.PAKE_RECEIVED)
        return [Outgoing(PHASE_VERSION, sealed)]

    def _peer_phase_key(self, phase: str) -> bytes:
        assert self._pake_key is not None and self._peer_side is not None
        return crypto.phase_key(self._pake_key, self._peer_side, phase)

    def _receive_version(self, body: bytes) -> None:
        try:
            plaintext = crypto.open_sealed(self._peer_phase_key(PHASE_VERSION), body)
        except DecryptError as exc:
            # Only someone without the code (or a tampering mailbox) gets here.
            raise WrongCode() from exc
        version = decode_version(plaintext)
        self._shared_secret = crypto.x25519(self._ephemeral_private, version.ephemeral)
        self._peer_version = version
        self._peer_version_plaintext = plaintext
        self._safety_number = crypto.safety_number(
            bytes(self._identity.verify_key), version.identity
        )
        assert self._peer_side is not None
        self.role = "offerer" if self.side < self._peer_side else "answerer"
        self._transition(
            _E.VERIFIED_AS_OFFERER if self.role == "offerer" else _E.VERIFIED_AS_ANSWERER
        )

    def _open_sdp(self, phase: str, body: bytes) -> bytes:
        plaintext, self.remote_sdp = open_sdp(self._peer_phase_key(phase), body, phase)
        return plaintext

    def seal_sdp(self, sdp: str) -> Outgoing:
        """Our SDP, sealed: the offer when we offer, else the answer to ``remote_sdp``."""
        self._require_usable()
        if self._state is PairingState.MUST_OFFER:
            phase, event = PHASE_OFFER, _E.OFFER_SENT
        elif self._state is PairingState.MUST_ANSWER:
            phase, event = PHASE_ANSWER, _E.ANSWER_SENT
        else:
            raise LocalProtocolError(
                f"seal_sdp() is not allowed while {self._state.value}: the offerer seals "
                "once the peer's version is verified, the answerer after the offer arrived"
            )
        assert self._pake_key is not None
        encoded, sealed = handshake.seal_sdp(
            crypto.phase_key(self._pake_key, self.side, phase), sdp, phase, self._random
        )
        if phase == PHASE_OFFER:
            self._offer_sdp = encoded
        else:
            self._answer_sdp = encoded
        self._transition(event)
        return Outgoing(phase, sealed)

    # --- bind (over the data channel) ------------------------------------------------

    def transcript(self) -> bytes:
        """The canonical transcript hash; available once both SDPs are known."""
        if self._state not in (PairingState.SDP_DONE, PairingState.PAIRED):
            raise LocalProtocolError("the transcript is complete only after offer and answer")
        assert self._offer_sdp is not None and self._answer_sdp is not None
        return transcript_hash(
            (self._own_pake, self._peer_pake),
            (self._own_version, self._peer_version_plaintext),
            self._offer_sdp,
            self._answer_sdp,
            self.appid,
        )

    def bind_message(self) -> bytes:
        """Signature (64) || MAC (32) over label || transcript || our side."""
        self._require_usable()
        transcript = self.transcript()
        assert self._pake_key is not None
        return handshake.bind_message(
            self._identity,
            crypto.purpose_key(self._pake_key, "bind"),
            _BIND_LABEL,
            transcript,
            self.side,
        )

    def receive_bind(self, data: bytes) -> SessionKeys:
        """Verify the peer's bind message and hand out the session keys."""
        self._require_usable()
        if self._state is not PairingState.SDP_DONE:
            raise LocalProtocolError(
                f"receive_bind() is not allowed while {self._state.value}: offer and answer "
                "must both be exchanged first, and a bind is accepted only once"
            )
        try:
            return self._verify_bind(data)
        except P2PChatError:
            self._fail()
            raise

    def _verify_bind(self, data: object) -> SessionKeys:
        assert self._peer_version is not None and self._peer_side is not None
        assert self._pake_key is not None and self.role is not None
        assert self._safety_number is not None
        transcript = self.transcript()
        verify_bind(
            data,
            peer_identity=self._peer_version.identity,
            mac_key=crypto.purpose_key(self._pake_key, "bind"),
            label=_BIND_LABEL,
            transcript=transcript,
            peer_side=self._peer_side,
            peer="the peer",
            attempt="pairing",
        )
        keys = session_keys(
            role=self.role,
            shared_secret=self._shared_secret,
            stream_ikm=self._pake_key,
            transcript=transcript,
            safety_number=self._safety_number,
            peer_identity=self._peer_version.identity,
            peer_capabilities=self._peer_version.capabilities,
            reconnect_psk=crypto.purpose_key(self._pake_key, "reconnect-psk"),
        )
        self._transition(_E.BIND_VERIFIED)
        return keys

    def transit_key(self) -> bytes:
        """The key both sides derive their transit relay token from (after both SDPs).

        Bound to this pairing's transcript, so no two sessions share a token.
        """
        self._require_usable()
        assert self._pake_key is not None
        return crypto.hkdf_sha256(
            crypto.purpose_key(self._pake_key, "transit"), b"transit:" + self.transcript()
        )

    def reconnect_psk(self) -> bytes:
        """The pre-shared key for reconnecting a pinned contact; only after pairing."""
        if self._state is not PairingState.PAIRED or self._pake_key is None:
            raise LocalProtocolError("the reconnect key exists only after a completed pairing")
        return crypto.purpose_key(self._pake_key, "reconnect-psk")
