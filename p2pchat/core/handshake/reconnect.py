"""Reconnecting a pinned contact without a code: the sans-I/O handshake.

Both sides of an earlier pairing hold the same reconnect PSK (HKDF of that
pairing's PAKE key) and each other's pinned Ed25519 identity key. To meet again
(DESIGN.md section 3 point 7) they both claim a long nameplate derived from the
PSK and the meeting window (``rendezvous_nameplate``) and run this exchange,
shaped like ``Pairing`` so that the service drives either one the same way. The
messages and keys live in ``reconnect_wire``.

1. ``hello`` (both): sealed with a key from the PSK: protocol version, our
   identity key, a fresh X25519 ephemeral key, capabilities, and an Ed25519
   signature over the ephemeral key and our side id. The identity must be the
   pinned one (``IdentityMismatch`` otherwise) and the signature must verify.
   Nothing else from the peer is accepted before its hello verified.
2. ``ready`` (the answerer, the side with the larger side id): a signature over
   both fresh ephemerals. A recorded hello can be replayed; ``ready`` cannot, so
   the offerer knows the contact is live before it reveals any address.
3. ``offer`` / ``answer``: the SDPs, each signed over its hash and the
   receiver's fresh ephemeral (as ``manual_pinned`` does), sealed under a
   key from the PSK *and* ``X25519(eph, eph_peer)``. The answerer answers only a
   verified offer, so a replayed offer fails before it sends its addresses.
4. bind (on the data channel): signature + MAC over the transcript hash (both
   hellos in sorted order, offer, answer, appid), exactly as in pairing.

Session keys: ``HKDF(X25519(eph, eph_peer) || K, salt=transcript, info=direction)``
with ``K`` derived from the PSK: fresh ephemerals give forward secrecy per
session. The PSK ratchets: a meeting that bound yields ``next_psk`` (from the
PSK, the DH secret and the transcript) and the key it used becomes the
fallback; the hello carries one box per key held, so a side that missed the
last step still meets. The first failure is final, as in ``Pairing``: whoever
holds only the reconnect key, or replays an old meeting, can stop a meeting but
never learn an address from it. The order is the one ``_TRANSITIONS`` table; the
transcript, the bind and the failure rules are ``skeleton.Handshake``'s.
"""

from __future__ import annotations

import enum
import hmac
import os
from collections.abc import Mapping
from typing import Final

import msgpack
import nacl.signing

from p2pchat.core import crypto
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake.reconnect_wire import (
    MAX_HELLO_PLAINTEXT,
    MAX_SEALED,
    PHASE_ANSWER,
    PHASE_HELLO,
    PHASE_OFFER,
    PHASE_READY,
    RECONNECT_VERSION,
    IdentityMismatch,
    PeerHello,
    check_psk,
    decode_hello,
    hello_signed,
    next_psk,
    open_hello,
    open_signed,
    pack_signed,
    psk_key,
    reconnect_transcript,
    seal_hello,
    sealed_phase_key,
)
from p2pchat.core.handshake.skeleton import BindKeys, Handshake, Table, Wording
from p2pchat.core.handshake.steps import APPID, Outgoing, check_sdp, validate_side
from p2pchat.core.handshake.version import encode_capabilities
from p2pchat.core.keys import Capabilities, Role

_BIND_LABEL: Final = b"p2pchat/v1 reconnect bind"


class ReconnectState(enum.Enum):
    IDLE = "idle"
    SENT_HELLO = "sent-hello"  # waiting for the peer's hello
    AWAIT_READY = "await-ready"  # offerer: the hello verified, waiting for the live proof
    MUST_OFFER = "must-offer"
    AWAIT_OFFER = "await-offer"
    AWAIT_ANSWER = "await-answer"
    MUST_ANSWER = "must-answer"
    SDP_DONE = "sdp-done"
    PAIRED = "paired"
    FAILED = "failed"


class _Event(enum.Enum):
    START = "start"
    HELLO_AS_OFFERER = "hello-as-offerer"
    HELLO_AS_ANSWERER = "hello-as-answerer"  # and our ready goes out
    READY_RECEIVED = "ready-received"
    OFFER_SENT = "offer-sent"
    OFFER_RECEIVED = "offer-received"
    ANSWER_SENT = "answer-sent"
    ANSWER_RECEIVED = "answer-received"
    BIND_VERIFIED = "bind-verified"


_S = ReconnectState
_E = _Event
# The one place where the order of a reconnect is written down.
_TRANSITIONS: Final[Mapping[ReconnectState, Mapping[_Event, ReconnectState]]] = {
    _S.IDLE: {_E.START: _S.SENT_HELLO},
    _S.SENT_HELLO: {_E.HELLO_AS_OFFERER: _S.AWAIT_READY, _E.HELLO_AS_ANSWERER: _S.AWAIT_OFFER},
    _S.AWAIT_READY: {_E.READY_RECEIVED: _S.MUST_OFFER},
    _S.MUST_OFFER: {_E.OFFER_SENT: _S.AWAIT_ANSWER},
    _S.AWAIT_ANSWER: {_E.ANSWER_RECEIVED: _S.SDP_DONE},
    _S.AWAIT_OFFER: {_E.OFFER_RECEIVED: _S.MUST_ANSWER},
    _S.MUST_ANSWER: {_E.ANSWER_SENT: _S.SDP_DONE},
    _S.SDP_DONE: {_E.BIND_VERIFIED: _S.PAIRED},
    _S.PAIRED: {},
    _S.FAILED: {},
}
_TABLE: Final = Table(_TRANSITIONS, _S.IDLE, _S.SDP_DONE, _S.PAIRED, _S.FAILED, _E.BIND_VERIFIED)
# Which events an incoming phase may cause; anything not due now is refused.
_EVENTS_FOR_PHASE: Final[Mapping[str, tuple[_Event, ...]]] = {
    PHASE_HELLO: (_E.HELLO_AS_OFFERER, _E.HELLO_AS_ANSWERER),
    PHASE_READY: (_E.READY_RECEIVED,),
    PHASE_OFFER: (_E.OFFER_RECEIVED,),
    PHASE_ANSWER: (_E.ANSWER_RECEIVED,),
}
# The states in which the contact has proved itself live for this meeting.
_LIVE: Final = frozenset({_S.MUST_OFFER, _S.AWAIT_ANSWER, _S.MUST_ANSWER, _S.SDP_DONE, _S.PAIRED})


class Reconnect(Handshake[ReconnectState, _Event]):
    """One side of one reconnect attempt with one pinned contact. Single use.

    ``role`` stays None until the contact proved itself live for this meeting
    (offerer: its ``ready`` verified; answerer: its signed offer verified), so a
    driver that acts on the role never opens a connection for a replay. The
    copy-paste meeting has its own, more compact exchange: ``manual_pinned``.
    """

    WORDING = Wording(
        peer="the contact",
        attempt="session",
        failed="This reconnect attempt has failed; start a new one.",
        incomplete="the transcript is complete only after hello, offer, answer",
        bind_not_due="receive_bind() is allowed once, after offer and answer",
    )

    def __init__(
        self,
        psk: bytes,
        side: str,
        identity: nacl.signing.SigningKey,
        pinned_peer_identity: bytes,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        previous_psk: bytes | None = None,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        # Current key first: the newest key both sides hold is the one used.
        self._psks = [check_psk(psk)]
        if previous_psk is not None and check_psk(previous_psk) != psk:
            self._psks.append(previous_psk)
        self._psk = b""  # the key of this meeting, once the peer's hello opened
        side = validate_side(side, LocalProtocolError, "our side id")
        if not isinstance(pinned_peer_identity, bytes) or len(pinned_peer_identity) != 32:
            raise LocalProtocolError("the pinned identity key must be 32 bytes")
        super().__init__(_TABLE, side=side, identity=identity, appid=appid, random=random)
        self._pinned = pinned_peer_identity
        self._capabilities = capabilities
        self._own_hello = b""
        self._peer_hello_plaintext = b""
        self._peer_hello: PeerHello | None = None
        self._offer_sdp: bytes | None = None
        self._answer_sdp: bytes | None = None

    @property
    def role(self) -> Role | None:
        """Our role, once the contact proved itself live (see the class docstring)."""
        return self._role if self.state in _LIVE else None

    # --- mailbox phases -----------------------------------------------------------

    def start(self) -> list[Outgoing]:
        """Our hello; call once, first."""
        self._require_usable()
        if not self._allows(_E.START):
            raise LocalProtocolError("start() may only be called once")
        ephemeral = self._ephemeral_public
        self._own_hello = msgpack.packb(
            {
                "v": RECONNECT_VERSION,
                "id": bytes(self._identity.verify_key),
                "eph": ephemeral,
                "sig": self._identity.sign(hello_signed(ephemeral, self.side)).signature,
                "caps": encode_capabilities(self._capabilities),
            },
            use_bin_type=True,
        )
        if len(self._own_hello) > MAX_HELLO_PLAINTEXT:
            raise LocalProtocolError("our capabilities are too large (shorten the label)")
        sealed = seal_hello(self._psks, self.side, self._own_hello, self._random)
        self._transition(_E.START)
        return [Outgoing(PHASE_HELLO, sealed)]

    def receive(self, phase: str, side: str, body: bytes) -> list[Outgoing]:
        """One message of the other side; what to send in reply (the answerer's ``ready``).

        ``IdentityMismatch`` for a changed key, ``RemoteProtocolError`` for anything
        else wrong (a message out of order, a replay); after either, this is dead."""
        self._require_usable()
        if self.state is _S.IDLE:
            raise LocalProtocolError("call start() before receive()")
        with self._failure_is_final():
            return self._receive(phase, side, body)

    def _receive(self, phase: object, side: object, body: object) -> list[Outgoing]:
        phase, peer_side, body = self._check_mailbox_message(
            phase, side, body, phases=MAX_SEALED, names="reconnect"
        )
        if len(body) > MAX_SEALED[phase]:
            raise RemoteProtocolError(f"the {phase} message is too large")
        if not any(self._allows(event) for event in _EVENTS_FOR_PHASE[phase]):
            raise RemoteProtocolError(
                f"unexpected {phase} (before the contact's verified hello, out of order, "
                "repeated or replayed): nothing was sent in reply"
            )
        if phase == PHASE_HELLO:
            return self._receive_hello(peer_side, body)
        plaintext = self._open_after_hello(phase, body)
        sdp = self._open_signed(phase, plaintext)
        if phase == PHASE_READY:
            self._transition(_E.READY_RECEIVED)
        elif phase == PHASE_OFFER:
            self._offer_sdp, self.remote_sdp = sdp, sdp.decode("utf-8")
            self._transition(_E.OFFER_RECEIVED)
        else:
            self._answer_sdp, self.remote_sdp = sdp, sdp.decode("utf-8")
            self._transition(_E.ANSWER_RECEIVED)
        return []

    def _receive_hello(self, peer_side: str, body: bytes) -> list[Outgoing]:
        psk, plaintext = open_hello(self._psks, peer_side, body)
        hello = decode_hello(plaintext, peer_side)
        if not hmac.compare_digest(hello.identity, self._pinned):
            raise IdentityMismatch(self._pinned, hello.identity)
        self._met(hello.identity, hello.ephemeral, hello.capabilities)
        self._psk = psk
        self._peer_side = peer_side
        self._role = "offerer" if self.side < peer_side else "answerer"
        self._peer_hello = hello
        self._peer_hello_plaintext = plaintext
        if self._role == "offerer":
            self._transition(_E.HELLO_AS_OFFERER)
            return []
        # The ready holds no address: only proof, over the offerer's fresh ephemeral,
        # that the contact's identity key is here now.
        self._transition(_E.HELLO_AS_ANSWERER)
        return [self._seal_signed(PHASE_READY, b"")]

    def _open_after_hello(self, phase: str, body: bytes) -> bytes:
        assert self._peer_side is not None
        key = sealed_phase_key(self._psk, self._shared_secret, self._peer_side, phase)
        try:
            return crypto.open_sealed(key, body)
        except DecryptError as exc:
            raise RemoteProtocolError(
                f"the contact's {phase} does not open with this meeting's keys (a replay, or "
                "someone holding only the reconnect key)"
            ) from exc

    def _open_signed(self, phase: str, plaintext: bytes) -> bytes:
        assert self._peer_hello is not None and self._peer_side is not None
        return open_signed(
            plaintext,
            self._peer_hello.identity,
            phase,
            self._peer_side,
            self._ephemeral_public,
            self._peer_hello.ephemeral,
        )

    def _seal_signed(self, phase: str, sdp: bytes) -> Outgoing:
        assert self._peer_hello is not None
        plaintext = pack_signed(
            self._identity,
            phase,
            self.side,
            self._peer_hello.ephemeral,
            self._ephemeral_public,
            sdp,
        )
        key = sealed_phase_key(self._psk, self._shared_secret, self.side, phase)
        return Outgoing(phase, crypto.seal(key, plaintext, self._random))

    def seal_sdp(self, sdp: str) -> Outgoing:
        """Our offer (offerer, after the contact's ``ready``) or answer (after its offer)."""
        self._require_usable()
        if self._allows(_E.OFFER_SENT):
            phase, event = PHASE_OFFER, _E.OFFER_SENT
        elif self._allows(_E.ANSWER_SENT):
            phase, event = PHASE_ANSWER, _E.ANSWER_SENT
        else:
            raise LocalProtocolError(
                "seal_sdp() is not allowed now: the contact has not proved itself for this "
                "meeting yet, or our description was already sent"
            )
        try:
            encoded = sdp.encode("utf-8")
        except (AttributeError, UnicodeEncodeError) as exc:
            raise LocalProtocolError(f"the {phase} SDP must be valid text") from exc
        check_sdp(sdp, LocalProtocolError, phase)
        out = self._seal_signed(phase, encoded)
        if phase == PHASE_OFFER:
            self._offer_sdp = encoded
        else:
            self._answer_sdp = encoded
        self._transition(event)
        return out

    # --- what the skeleton asks of this variant -----------------------------------

    def _transcript_hash(self) -> bytes:
        assert self._offer_sdp is not None and self._answer_sdp is not None
        return reconnect_transcript(
            (self._own_hello, self._peer_hello_plaintext),
            self._offer_sdp,
            self._answer_sdp,
            self.appid,
        )

    def _bind_keys(self) -> BindKeys:
        return BindKeys(_BIND_LABEL, psk_key(self._psk, "bind"), psk_key(self._psk, "stream"))

    def _next_psks(self, transcript: bytes) -> tuple[bytes, bytes]:
        # The key ratchets: the session keeps the next one, and this one as the fallback.
        return next_psk(self._psk, self._shared_secret, transcript), self._psk

    def transit_key(self) -> bytes:
        """The key of the transit relay token; bound to the transcript, so a relay
        cannot tell that two sessions are the same two people."""
        return self._transit_key(psk_key(self._psk, "transit"))
