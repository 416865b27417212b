"""Serverless first contact by copy-paste: three blobs under a code read aloud.

No mailbox at all (DESIGN.md section 3 point 8); the blob format and compact
SDPs are ``blobs``'. First contact, under a code spoken aloud (``ManualPairing``;
the joiner offers):
  1. inviter -> joiner: the inviter's PAKE message;
  2. joiner -> inviter: the joiner's PAKE message + sealed (version, offer);
  3. inviter -> joiner: sealed (version, answer).
A sealed part that does not open means a wrong code (``WrongCode``): one guess
per exchange, never a short authentication string after unauthenticated pastes.
Then the bind over the data channel, as in ``pairing``: the transcript, the bind
and the failure rules are ``skeleton.Handshake``'s.

A paste that is not a blob of the kind due (``InvalidBlob``) can be pasted
again; a blob that is well formed but does not open or verify ends the attempt.
The order of both copy-paste exchanges is the one ``PASTE_TABLE`` here (the
pinned meeting, ``manual_pinned``, uses it too).
"""

from __future__ import annotations

import enum
import os
from typing import ClassVar, Final

import msgpack
import nacl.signing
import spake2

from p2pchat.core import crypto
from p2pchat.core.codes import parse as parse_code
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError, WrongCode
from p2pchat.core.handshake.blobs import (
    INVITER_SIDE,
    JOINER_SIDE,
    KIND_PAKE_1,
    KIND_PAKE_2,
    KIND_PAKE_3,
    MAX_SEALED,
    InvalidBlob,
    compact_sdp,
    decode_blob,
    encode_blob,
    expand_sdp,
    open_once,
    seal_once,
)
from p2pchat.core.handshake.pairing import PAKE_MESSAGE_SIZE, transcript_hash
from p2pchat.core.handshake.skeleton import BindKeys, Handshake, Table, Wording
from p2pchat.core.handshake.steps import APPID
from p2pchat.core.handshake.version import pack_version, unpack_version
from p2pchat.core.keys import Capabilities

MANUAL_NAMEPLATE: Final = "0"  # a manual code has no nameplate; "0" keeps the code format
_BIND_LABEL: Final = b"p2pchat/v1 manual bind"


class PasteState(enum.Enum):
    IDLE = "idle"  # inviter: our first blob is out; joiner: waiting for the inviter's
    MUST_ANSWER = "must-answer"  # inviter: the offer opened; our answer goes out next
    AWAIT_ANSWER = "await-answer"  # joiner: our offer is out, waiting for the answer
    SDP_DONE = "sdp-done"  # both SDPs known: exchange bind messages on the data channel
    PAIRED = "paired"  # the peer's bind verified; session keys handed out
    FAILED = "failed"  # terminal: nothing more is accepted or sent


class PasteEvent(enum.Enum):
    OFFER_RECEIVED = "offer-received"
    ANSWER_SENT = "answer-sent"
    OFFER_SENT = "offer-sent"
    ANSWER_RECEIVED = "answer-received"
    BIND_VERIFIED = "bind-verified"


_S = PasteState
_E = PasteEvent
# The one place where the order of a copy-paste exchange is written down.
PASTE_TABLE: Final = Table[PasteState, PasteEvent](
    {
        _S.IDLE: {_E.OFFER_RECEIVED: _S.MUST_ANSWER, _E.OFFER_SENT: _S.AWAIT_ANSWER},
        _S.MUST_ANSWER: {_E.ANSWER_SENT: _S.SDP_DONE},
        _S.AWAIT_ANSWER: {_E.ANSWER_RECEIVED: _S.SDP_DONE},
        _S.SDP_DONE: {_E.BIND_VERIFIED: _S.PAIRED},
        _S.PAIRED: {},
        _S.FAILED: {},
    },
    start=_S.IDLE,
    bind_due=_S.SDP_DONE,
    bound=_S.PAIRED,
    failed=_S.FAILED,
    bind_verified=_E.BIND_VERIFIED,
)


class PasteHandshake(Handshake[PasteState, PasteEvent]):
    """What both copy-paste handshakes share: fixed sides, and which step is due."""

    NOT_DUE: ClassVar[str]  # a step called out of turn

    def _step(self, *, inviter: bool, due: bool) -> None:
        if self.state in (_S.FAILED, _S.PAIRED):
            raise LocalProtocolError(self.WORDING.failed)
        if (self.side == INVITER_SIDE) != inviter or not due:
            raise LocalProtocolError(self.NOT_DUE)


def manual_code(random: crypto.RandomSource = os.urandom) -> str:
    """A fresh code to read aloud for a copy-paste pairing."""
    from p2pchat.core.codes import generate

    return str(generate(MANUAL_NAMEPLATE, random))


class ManualPairing(PasteHandshake):
    """One side of a three-blob first contact. The joiner offers; single use."""

    WORDING = Wording(
        peer="the peer",
        attempt="pairing",
        failed="this copy-paste pairing has failed or finished",
        incomplete="the transcript is complete only after all three blobs",
        bind_not_due="receive_bind() is allowed once, after all three blobs",
    )
    NOT_DUE = "that step is not due now in this copy-paste pairing"

    def __init__(
        self,
        code: str,
        inviter: bool,
        identity: nacl.signing.SigningKey,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        password = str(parse_code(code, manual=True)).encode("ascii")
        super().__init__(
            PASTE_TABLE,
            side=INVITER_SIDE if inviter else JOINER_SIDE,
            peer_side=JOINER_SIDE if inviter else INVITER_SIDE,
            role="answerer" if inviter else "offerer",
            identity=identity,
            appid=appid,
            random=random,
        )
        self._spake = spake2.SPAKE2_Symmetric(
            password, idSymmetric=appid.encode("utf-8"), entropy_f=random
        )
        self._own_pake = bytes(self._spake.start())
        self._own_version = pack_version(
            bytes(identity.verify_key), self._ephemeral_public, capabilities
        )
        self._peer_pake = b""
        self._peer_version = b""
        self._key: bytes | None = None
        self._offer = b""
        self._answer = b""

    def _forget(self) -> None:
        self._key = None

    # inviter: blob 1, then take blob 2, then blob 3
    def first_blob(self) -> str:
        self._step(inviter=True, due=self.state is _S.IDLE)
        return encode_blob(KIND_PAKE_1, [self._own_pake])

    def receive_second(self, blob: str) -> str:
        """The joiner's offer SDP (full form), once its sealed part opened."""
        self._step(inviter=True, due=self._allows(_E.OFFER_RECEIVED))
        pake, sealed = decode_blob(blob, KIND_PAKE_2)
        self._finish_pake(pake)
        with self._failure_is_final():
            self._offer = self._open_peer(sealed, "offer")
        self._transition(_E.OFFER_RECEIVED)
        assert self.remote_sdp is not None
        return self.remote_sdp

    def third_blob(self, answer_sdp: str) -> str:
        self._step(inviter=True, due=self._allows(_E.ANSWER_SENT))
        self._answer = compact_sdp(answer_sdp).encode("ascii")
        blob = encode_blob(KIND_PAKE_3, [self._seal_own("answer", self._answer)])
        self._transition(_E.ANSWER_SENT)
        return blob

    # joiner: take blob 1 with the offer ready, then take blob 3
    def second_blob(self, first: str, offer_sdp: str) -> str:
        self._step(inviter=False, due=self._allows(_E.OFFER_SENT))
        (pake,) = decode_blob(first, KIND_PAKE_1)
        # Our own SDP first: once the PAKE finished, this step cannot be taken again.
        offer = compact_sdp(offer_sdp).encode("ascii")
        self._finish_pake(pake)
        self._offer = offer
        blob = encode_blob(KIND_PAKE_2, [self._own_pake, self._seal_own("offer", offer)])
        self._transition(_E.OFFER_SENT)
        return blob

    def receive_third(self, blob: str) -> str:
        """The inviter's answer SDP, once its sealed part opened (else ``WrongCode``)."""
        self._step(inviter=False, due=self._allows(_E.ANSWER_RECEIVED))
        (sealed,) = decode_blob(blob, KIND_PAKE_3)
        with self._failure_is_final():
            self._answer = self._open_peer(sealed, "answer")
        self._transition(_E.ANSWER_RECEIVED)
        assert self.remote_sdp is not None
        return self.remote_sdp

    # --- internals ----------------------------------------------------------------

    def _finish_pake(self, pake: bytes) -> None:
        if len(pake) != PAKE_MESSAGE_SIZE or pake == self._own_pake:
            raise InvalidBlob("the PAKE message in the blob is malformed (or our own)")
        try:
            self._key = bytes(self._spake.finish(pake))
        except Exception as exc:  # spake2 raises its own errors and ValueError
            raise InvalidBlob("the PAKE message in the blob is not valid") from exc
        self._peer_pake = pake

    def _seal_own(self, phase: str, sdp: bytes) -> bytes:
        assert self._key is not None
        # Not compressed: keys and credentials are random, zlib would only add bytes.
        plaintext = msgpack.packb([self._own_version, sdp], use_bin_type=True)
        # Each phase key (fresh PAKE key, per side and phase) seals exactly one message.
        return seal_once(crypto.phase_key(self._key, self.side, phase), plaintext)

    def _open_peer(self, sealed: bytes, phase: str) -> bytes:
        """The peer's compact SDP; its version met, ``remote_sdp`` set."""
        assert self._key is not None and self._peer_side is not None
        if len(sealed) > MAX_SEALED:
            raise RemoteProtocolError("the peer's sealed details are too long")
        try:
            plaintext = open_once(crypto.phase_key(self._key, self._peer_side, phase), sealed)
        except DecryptError as exc:
            raise WrongCode() from exc
        try:
            version, sdp = msgpack.unpackb(plaintext, raw=False)
            if not isinstance(version, bytes) or not isinstance(sdp, bytes):
                raise ValueError("wrong field types")
            text = sdp.decode("ascii")
            peer = unpack_version(version)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise RemoteProtocolError("the peer's sealed details are malformed") from exc
        self._met(peer.identity, peer.ephemeral, peer.capabilities)
        self._peer_version = version
        self.remote_sdp = expand_sdp(text)
        return sdp

    # --- what the skeleton asks of this variant -----------------------------------

    def _transcript_hash(self) -> bytes:
        return transcript_hash(
            (self._own_pake, self._peer_pake),
            (self._own_version, self._peer_version),
            self._offer,
            self._answer,
            self.appid,
        )

    def _bind_keys(self) -> BindKeys:
        assert self._key is not None
        return BindKeys(_BIND_LABEL, crypto.purpose_key(self._key, "bind"), self._key)

    def _next_psks(self, transcript: bytes) -> tuple[bytes, bytes]:
        assert self._key is not None
        return crypto.purpose_key(self._key, "reconnect-psk"), b""
