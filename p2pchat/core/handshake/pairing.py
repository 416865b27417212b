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

A direct TCP path (hints in the version: ``listen_at``; ``service/direct_race``) may
open before any SDP crossed: ``choose_direct`` puts ``DIRECT_MARK`` in the transcript
for both SDPs (no DTLS runs to bind), and ``direct_key`` keys the path's proof.

Every byte from the peer is validated (types, sizes, order); any violation is a
``RemoteProtocolError`` (``WrongCode`` for a version that does not open), and the
first failure is final. All state changes go through the one ``_TRANSITIONS`` table;
the transcript, the bind and the failure rules are ``skeleton.Handshake``'s.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from typing import Final

import msgpack
import nacl.signing
import spake2

from p2pchat.core import crypto
from p2pchat.core.codes import parse as parse_code
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError, WrongCode
from p2pchat.core.handshake import steps
from p2pchat.core.handshake.skeleton import BindKeys, Handshake, Table, Wording
from p2pchat.core.handshake.steps import (
    APPID,
    MAX_SDP_BYTES,
    Outgoing,
    hash_items,
    open_sdp,
    validate_side,
)
from p2pchat.core.handshake.version import (
    PROTOCOL_VERSION,
    DirectHint,
    PeerVersion,
    decode_version,
    encode_capabilities,
    encode_direct_hints,
)
from p2pchat.core.keys import Capabilities

PHASE_PAKE: Final = "pake"
PHASE_VERSION: Final = "version"
PHASE_OFFER: Final = "offer"
PHASE_ANSWER: Final = "answer"
PHASES: Final = (PHASE_PAKE, PHASE_VERSION, PHASE_OFFER, PHASE_ANSWER)

PAKE_MESSAGE_SIZE: Final = 33  # spake2's side byte b"S" + one Ed25519 group element
MAX_VERSION_PLAINTEXT: Final = 2048
_MAX_SEALED = {
    PHASE_VERSION: MAX_VERSION_PLAINTEXT + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_OFFER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
    PHASE_ANSWER: MAX_SDP_BYTES + crypto.NONCE_SIZE + crypto.BOX_OVERHEAD,
}
_BIND_LABEL: Final = b"p2pchat/v1 bind"
_SPAKE_SIDE_SYMMETRIC: Final = b"S"
#: Both SDPs' place in the transcript when the direct TCP path carried the bind. Our
#: own SDP is never this, so such a transcript never equals one of an SDP exchange.
DIRECT_MARK: Final = b"p2pchat direct tcp: no sdp"


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
    DIRECT_CHOSEN = "direct-chosen"
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
    # DIRECT_CHOSEN: the direct path opened first, whatever of the SDPs had crossed.
    _S.MUST_OFFER: {_E.OFFER_SENT: _S.AWAIT_ANSWER, _E.DIRECT_CHOSEN: _S.SDP_DONE},
    _S.AWAIT_ANSWER: {_E.ANSWER_RECEIVED: _S.SDP_DONE, _E.DIRECT_CHOSEN: _S.SDP_DONE},
    _S.AWAIT_OFFER: {_E.OFFER_RECEIVED: _S.MUST_ANSWER, _E.DIRECT_CHOSEN: _S.SDP_DONE},
    _S.MUST_ANSWER: {_E.ANSWER_SENT: _S.SDP_DONE, _E.DIRECT_CHOSEN: _S.SDP_DONE},
    _S.SDP_DONE: {_E.BIND_VERIFIED: _S.PAIRED, _E.DIRECT_CHOSEN: _S.SDP_DONE},
    _S.PAIRED: {},
    _S.FAILED: {},
}
_TABLE: Final = Table(_TRANSITIONS, _S.IDLE, _S.SDP_DONE, _S.PAIRED, _S.FAILED, _E.BIND_VERIFIED)
# Which events an incoming phase may cause; the table above decides if it is due now.
_EVENTS_FOR_PHASE: Final[Mapping[str, tuple[_Event, ...]]] = {
    PHASE_PAKE: (_E.PAKE_RECEIVED,),
    PHASE_VERSION: (_E.VERIFIED_AS_OFFERER, _E.VERIFIED_AS_ANSWERER),
    PHASE_OFFER: (_E.OFFER_RECEIVED,),
    PHASE_ANSWER: (_E.ANSWER_RECEIVED,),
}


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


class Pairing(Handshake[PairingState, _Event]):
    """One side of one pairing attempt. Single use: a failure is final."""

    WORDING = Wording(
        peer="the peer",
        attempt="pairing",
        failed="This pairing attempt has failed; start again with a new code.",
        incomplete="the transcript is complete only after offer and answer",
        bind_not_due="receive_bind() is not allowed while {state}: offer and answer "
        "must both be exchanged first, and a bind is accepted only once",
    )

    def __init__(
        self,
        code: str,
        side: str,
        identity: nacl.signing.SigningKey,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        random: crypto.RandomSource = os.urandom,
        direct_hints: Sequence[DirectHint] | None = None,
    ) -> None:
        # direct_hints: None takes no part in a direct TCP path, a list (maybe empty) does.
        # Canonical form, so "7 Word word word" and "7-word-word-word" agree.
        self._password = str(parse_code(code)).encode("ascii")
        side = validate_side(side, LocalProtocolError, "our mailbox side id")
        super().__init__(_TABLE, side=side, identity=identity, appid=appid, random=random)
        self._capabilities = capabilities
        self._direct = None if direct_hints is None else encode_direct_hints(direct_hints)
        self.peer_direct: tuple[DirectHint, ...] | None = None
        self._direct_chosen = False
        self._spake = spake2.SPAKE2_Symmetric(
            self._password, idSymmetric=appid.encode("utf-8"), entropy_f=random
        )
        self._pake_key: bytes | None = None
        self._own_pake = b""
        self._peer_pake = b""
        self._own_version = b""
        self._peer_version_plaintext = b""
        self._offer_sdp: bytes | None = None
        self._answer_sdp: bytes | None = None

    def _forget(self) -> None:
        self._pake_key = None  # drop secrets we will never need again

    # --- mailbox phases --------------------------------------------------------------

    def start(self) -> list[Outgoing]:
        """Our pake message; call once, before feeding anything to ``receive``."""
        self._require_usable()
        if not self._allows(_E.START):
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
        if self.state is PairingState.IDLE:
            raise LocalProtocolError("call start() before receive()")
        with self._failure_is_final():
            return self._receive(phase, side, body)

    def _receive(self, phase: object, side: object, body: object) -> list[Outgoing]:
        phase, peer_side, body = self._check_mailbox_message(
            phase, side, body, phases=_EVENTS_FOR_PHASE, names="pairing"
        )
        if not any(self._allows(event) for event in _EVENTS_FOR_PHASE[phase]):
            raise RemoteProtocolError(
                f"unexpected {phase} message while {self.state.value} "
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
        version: dict[str, object] = {
            "v": PROTOCOL_VERSION,
            "id": bytes(self._identity.verify_key),
            "eph": self._ephemeral_public,
            "caps": encode_capabilities(self._capabilities),
        }
        if self._direct is not None:
            version["direct"] = self._direct
        self._own_version = msgpack.packb(version, use_bin_type=True)
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
        version: PeerVersion = decode_version(plaintext)
        self._met(version.identity, version.ephemeral, version.capabilities)
        self.peer_direct = version.direct
        self._peer_version_plaintext = plaintext
        assert self._peer_side is not None
        self._role = "offerer" if self.side < self._peer_side else "answerer"
        self._transition(
            _E.VERIFIED_AS_OFFERER if self._role == "offerer" else _E.VERIFIED_AS_ANSWERER
        )

    def _open_sdp(self, phase: str, body: bytes) -> bytes:
        plaintext, self.remote_sdp = open_sdp(self._peer_phase_key(phase), body, phase)
        return plaintext

    def seal_sdp(self, sdp: str) -> Outgoing:
        """Our SDP, sealed: the offer when we offer, else the answer to ``remote_sdp``."""
        self._require_usable()
        if self._allows(_E.OFFER_SENT):
            phase, event = PHASE_OFFER, _E.OFFER_SENT
        elif self._allows(_E.ANSWER_SENT):
            phase, event = PHASE_ANSWER, _E.ANSWER_SENT
        else:
            raise LocalProtocolError(
                f"seal_sdp() is not allowed while {self.state.value}: the offerer seals "
                "once the peer's version is verified, the answerer after the offer arrived"
            )
        assert self._pake_key is not None
        encoded, sealed = steps.seal_sdp(
            crypto.phase_key(self._pake_key, self.side, phase), sdp, phase, self._random
        )
        if phase == PHASE_OFFER:
            self._offer_sdp = encoded
        else:
            self._answer_sdp = encoded
        self._transition(event)
        return Outgoing(phase, sealed)

    # --- the direct TCP path -----------------------------------------------------------

    def listen_at(self, hints: Sequence[DirectHint]) -> None:
        """Where we listen for the direct path (given ``direct_hints=[]``), before the pake."""
        if self._direct is None or self._pake_key is not None:
            raise LocalProtocolError("listen_at() needs direct_hints=[] and precedes the pake")
        self._direct = encode_direct_hints(hints)

    def direct_key(self) -> bytes:
        """The key of the direct path's mutual proof, once both versions are verified.

        Bound to both pake messages and both versions (hence both sides' hints), so it
        is this pairing's alone and needs no SDP.
        """
        self._require_usable()
        if self._pake_key is None or self._role is None:
            raise LocalProtocolError("the direct key exists once the peer's version is verified")
        pakes, versions = (
            (self._own_pake, self._peer_pake),
            (self._own_version, self._peer_version_plaintext),
        )
        early = hash_items([*sorted(pakes), *sorted(versions), self.appid.encode("utf-8")])
        return crypto.hkdf_sha256(crypto.purpose_key(self._pake_key, "direct"), b"direct:" + early)

    def choose_direct(self) -> None:
        """The direct path carries the bind: ``DIRECT_MARK`` stands for both SDPs."""
        self._require_usable()
        if not self._allows(_E.DIRECT_CHOSEN) or self._direct_chosen:
            raise LocalProtocolError(f"choose_direct() is not allowed while {self.state.value}")
        self._direct_chosen = True
        self.remote_sdp = None
        self._transition(_E.DIRECT_CHOSEN)

    # --- what the skeleton asks of this variant --------------------------------------

    def _transcript_hash(self) -> bytes:
        if self._direct_chosen:
            offer, answer = DIRECT_MARK, DIRECT_MARK
        else:
            assert self._offer_sdp is not None and self._answer_sdp is not None
            offer, answer = self._offer_sdp, self._answer_sdp
        return transcript_hash(
            (self._own_pake, self._peer_pake),
            (self._own_version, self._peer_version_plaintext),
            offer,
            answer,
            self.appid,
        )

    def _bind_keys(self) -> BindKeys:
        assert self._pake_key is not None
        return BindKeys(_BIND_LABEL, crypto.purpose_key(self._pake_key, "bind"), self._pake_key)

    def _next_psks(self, transcript: bytes) -> tuple[bytes, bytes]:
        assert self._pake_key is not None
        return crypto.purpose_key(self._pake_key, "reconnect-psk"), b""

    # --- keys for what comes after ---------------------------------------------------

    def transit_key(self) -> bytes:
        """The key both sides derive their transit relay token from (after both SDPs).

        Bound to this pairing's transcript, so no two sessions share a token.
        """
        self._require_usable()
        assert self._pake_key is not None
        return self._transit_key(crypto.purpose_key(self._pake_key, "transit"))

    def reconnect_psk(self) -> bytes:
        """The pre-shared key for reconnecting a pinned contact; only after pairing."""
        if self.state is not PairingState.PAIRED or self._pake_key is None:
            raise LocalProtocolError("the reconnect key exists only after a completed pairing")
        return crypto.purpose_key(self._pake_key, "reconnect-psk")
