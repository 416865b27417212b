"""Copy-paste meeting with a pinned contact: two signed blobs, no code, no server.

Both sides already hold the contact's reconnect PSK and each other's pinned identity
key (from an earlier pairing). The inviter offers, the joiner answers:

1. inviter -> joiner: ``[salt_i, sealed_i]``;
2. joiner -> inviter: ``[salt_j, sealed_j]``.

``salt_*`` are 16 fresh random bytes. ``sealed_*`` is one SecretBox under a key
derived from the PSK, the side and the salts so far (``salt_i`` for the inviter,
``salt_i || salt_j`` for the joiner): every key seals exactly one message, so the
nonce is fixed and not sent, and a replayed first blob makes the joiner answer
under a new key. Inside: ``[v, identity, ephemeral, caps, compact SDP, signature]``
where the Ed25519 signature covers a label, the side, the salts, the ephemeral key
and the SDP: the SDPs are signed by the identity keys, with fresh ephemerals
(DESIGN.md section 3 points 7 and 8). The identity is carried so that a changed
key gives the SSH-style ``IdentityMismatch`` naming both keys.

Then the bind over the data channel (signature + MAC over the transcript), and
session keys from ``X25519(eph, eph_peer)`` and the PSK, as a mailbox reconnect:
the transcript, the bind and the failure rules are ``skeleton.Handshake``'s, the
order is ``manual.PASTE_TABLE``, the blob format is ``blobs``'.

Why not the mailbox reconnect's messages: they are a sealed map with key names,
a random 24-byte nonce per message (its keys come from the PSK alone and repeat
every session), and a separate box for the hello and the SDP: 540 characters a
blob against about 380 here.
"""

from __future__ import annotations

import hmac
import os
from typing import Final

import msgpack
import nacl.signing

from p2pchat.core import crypto
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake.blobs import (
    INVITER_SIDE,
    JOINER_SIDE,
    KIND_PINNED_1,
    KIND_PINNED_2,
    MAX_SEALED,
    compact_sdp,
    decode_blob,
    encode_blob,
    expand_sdp,
    open_once,
    seal_once,
)
from p2pchat.core.handshake.manual import PASTE_TABLE, PasteEvent, PasteHandshake, PasteState
from p2pchat.core.handshake.reconnect_wire import IdentityMismatch, check_psk
from p2pchat.core.handshake.skeleton import BindKeys, Wording
from p2pchat.core.handshake.steps import APPID, hash_items, verify_signature
from p2pchat.core.handshake.version import pack_version, unpack_version
from p2pchat.core.keys import Capabilities

SALT_SIZE: Final = 16
_KEY_LABEL: Final = b"p2pchat/v1 manual pinned key:"
_SIGNATURE_LABEL: Final = b"p2pchat/v1 manual pinned sdp"
_TRANSCRIPT_LABEL: Final = b"p2pchat/v1 manual pinned transcript"
_BIND_LABEL: Final = b"p2pchat/v1 manual pinned bind"
_E = PasteEvent


def _psk_key(psk: bytes, purpose: bytes) -> bytes:
    return crypto.hkdf_sha256(psk, _KEY_LABEL + purpose)


class ManualReconnect(PasteHandshake):
    """One side of a two-blob copy-paste meeting with one pinned contact. Single use."""

    WORDING = Wording(
        peer="the contact",
        attempt="session",
        failed="this copy-paste meeting has failed or finished",
        incomplete="the transcript is complete only after both blobs",
        bind_not_due="receive_bind() is allowed once, after both blobs",
    )
    NOT_DUE = "that step is not due now in this copy-paste meeting"

    def __init__(
        self,
        psk: bytes,
        inviter: bool,
        identity: nacl.signing.SigningKey,
        pinned_peer_identity: bytes,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        if not isinstance(pinned_peer_identity, bytes) or len(pinned_peer_identity) != 32:
            raise LocalProtocolError("the pinned identity key must be 32 bytes")
        self._psk = check_psk(psk)
        super().__init__(
            PASTE_TABLE,
            side=INVITER_SIDE if inviter else JOINER_SIDE,
            peer_side=JOINER_SIDE if inviter else INVITER_SIDE,
            role="offerer" if inviter else "answerer",
            identity=identity,
            appid=appid,
            random=random,
        )
        self._pinned = pinned_peer_identity
        self._capabilities = capabilities
        own_salt = bytes(random(SALT_SIZE))
        if len(own_salt) != SALT_SIZE:
            raise LocalProtocolError("the random source gave too few bytes")
        # Each side knows its own salt from the start and the other's from its blob.
        self._salts = {self.side: own_salt, JOINER_SIDE if inviter else INVITER_SIDE: b""}
        self._payloads: dict[str, bytes] = {}

    # --- the inviter: blob 1, then blob 2 in ----------------------------------------
    def first_blob(self, offer_sdp: str) -> str:
        self._step(inviter=True, due=self._allows(_E.OFFER_SENT))
        blob = encode_blob(KIND_PINNED_1, [self._salts[self.side], self._seal_own(offer_sdp)])
        self._transition(_E.OFFER_SENT)
        return blob

    def receive_second(self, blob: str) -> str:
        """The joiner's answer SDP (full form), once its blob opened and verified."""
        self._step(inviter=True, due=self._allows(_E.ANSWER_RECEIVED))
        self._salts[JOINER_SIDE], sealed = self._checked(decode_blob(blob, KIND_PINNED_2))
        return self._open_peer(sealed, _E.ANSWER_RECEIVED)

    # --- the joiner: blob 1 in, then blob 2 ------------------------------------------
    def receive_first(self, blob: str) -> str:
        """The inviter's offer SDP (full form), once its blob opened and verified."""
        self._step(inviter=False, due=self._allows(_E.OFFER_RECEIVED))
        self._salts[INVITER_SIDE], sealed = self._checked(decode_blob(blob, KIND_PINNED_1))
        return self._open_peer(sealed, _E.OFFER_RECEIVED)

    def second_blob(self, answer_sdp: str) -> str:
        self._step(inviter=False, due=self._allows(_E.ANSWER_SENT))
        blob = encode_blob(KIND_PINNED_2, [self._salts[self.side], self._seal_own(answer_sdp)])
        self._transition(_E.ANSWER_SENT)
        return blob

    # --- internals --------------------------------------------------------------------
    def _checked(self, fields: list[bytes]) -> tuple[bytes, bytes]:
        salt, sealed = fields
        if len(salt) != SALT_SIZE:
            raise RemoteProtocolError("the blob's salt has the wrong size")
        if len(sealed) > MAX_SEALED:
            raise RemoteProtocolError("the blob's sealed details are too long")
        return salt, sealed

    def _salt_bytes(self, side: str) -> bytes:
        """What ``side``'s key and signature cover: the inviter's salt, then the joiner's."""
        if side == INVITER_SIDE:
            return self._salts[INVITER_SIDE]
        return self._salts[INVITER_SIDE] + self._salts[JOINER_SIDE]

    def _key(self, side: str) -> bytes:
        return _psk_key(self._psk, side.encode("ascii") + b"|" + self._salt_bytes(side))

    def _signed(self, side: str, ephemeral: bytes, sdp: bytes) -> bytes:
        return hash_items((_SIGNATURE_LABEL, side.encode(), self._salt_bytes(side), ephemeral, sdp))

    def _seal_own(self, sdp_text: str) -> bytes:
        sdp = compact_sdp(sdp_text).encode("ascii")
        ephemeral = self._ephemeral_public
        version = pack_version(bytes(self._identity.verify_key), ephemeral, self._capabilities)
        signature = self._identity.sign(self._signed(self.side, ephemeral, sdp)).signature
        payload = bytes(msgpack.packb([version, sdp, bytes(signature)], use_bin_type=True))
        self._payloads[self.side] = payload
        return seal_once(self._key(self.side), payload)

    def _open_peer(self, sealed: bytes, event: PasteEvent) -> str:
        assert self._peer_side is not None
        with self._failure_is_final():
            try:
                payload = open_once(self._key(self._peer_side), sealed)
            except DecryptError as exc:
                raise RemoteProtocolError(
                    "This blob was not sealed with this contact's reconnect key (or it is "
                    "from another meeting): nothing was accepted."
                ) from exc
            try:
                version, sdp, signature = msgpack.unpackb(payload, raw=False)
                if not all(isinstance(x, bytes) for x in (version, sdp, signature)):
                    raise ValueError("wrong field types")
                sdp_text = sdp.decode("ascii")
            except (ValueError, TypeError, msgpack.UnpackException) as exc:
                raise RemoteProtocolError("the contact's sealed details are malformed") from exc
            peer = unpack_version(version)
            if not hmac.compare_digest(peer.identity, self._pinned):
                raise IdentityMismatch(self._pinned, peer.identity)
            verify_signature(
                peer.identity,
                self._signed(self._peer_side, peer.ephemeral, sdp),
                signature,
                "the contact's connection details are not signed by their pinned key",
            )
            self.remote_sdp = expand_sdp(sdp_text)
            self._met(peer.identity, peer.ephemeral, peer.capabilities)
        self._payloads[self._peer_side] = payload
        self._transition(event)
        return self.remote_sdp

    # --- what the skeleton asks of this variant -----------------------------------------

    def _transcript_hash(self) -> bytes:
        return hash_items(
            (
                _TRANSCRIPT_LABEL,
                self._salts[INVITER_SIDE],
                self._salts[JOINER_SIDE],
                self._payloads[INVITER_SIDE],
                self._payloads[JOINER_SIDE],
                self.appid.encode("utf-8"),
            )
        )

    def _bind_keys(self) -> BindKeys:
        return BindKeys(_BIND_LABEL, _psk_key(self._psk, b"bind"), _psk_key(self._psk, b"stream"))

    def _next_psks(self, transcript: bytes) -> tuple[bytes, bytes]:
        return self._psk, b""  # the copy-paste meeting does not ratchet (docs/attacks.md)


__all__ = ["SALT_SIZE", "ManualReconnect", "PasteState"]
