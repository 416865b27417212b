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
session keys from ``X25519(eph, eph_peer)`` and the PSK, as a mailbox reconnect.

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
import nacl.exceptions
import nacl.secret
import nacl.signing

from p2pchat.core import crypto, handshake
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake import hash_items, new_ephemeral, session_keys, verify_bind
from p2pchat.core.keys import Capabilities, Role, SessionKeys
from p2pchat.core.manual import (
    INVITER_SIDE,
    JOINER_SIDE,
    KIND_PINNED_1,
    KIND_PINNED_2,
    MAX_SEALED_PLAINTEXT,
    compact_sdp,
    decode_blob,
    encode_blob,
    expand_sdp,
    pack_version,
    unpack_version,
)
from p2pchat.core.pairing import APPID
from p2pchat.core.reconnect import IdentityMismatch, check_psk

SALT_SIZE: Final = 16
_NONCE: Final = bytes(nacl.secret.SecretBox.NONCE_SIZE)
_KEY_LABEL: Final = b"p2pchat/v1 manual pinned key:"
_SIGNATURE_LABEL: Final = b"p2pchat/v1 manual pinned sdp"
_TRANSCRIPT_LABEL: Final = b"p2pchat/v1 manual pinned transcript"
_BIND_LABEL: Final = b"p2pchat/v1 manual pinned bind"


def _psk_key(psk: bytes, purpose: bytes) -> bytes:
    return crypto.hkdf_sha256(psk, _KEY_LABEL + purpose)


class ManualReconnect:
    """One side of a two-blob copy-paste meeting with one pinned contact. Single use."""

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
        self._identity = identity
        self._pinned = pinned_peer_identity
        self._capabilities = capabilities
        self.appid = appid
        self.side = INVITER_SIDE if inviter else JOINER_SIDE
        self._peer_side = JOINER_SIDE if inviter else INVITER_SIDE
        self.role: Role = "offerer" if inviter else "answerer"
        self._ephemeral = new_ephemeral(random)
        own_salt = bytes(random(SALT_SIZE))
        if len(own_salt) != SALT_SIZE:
            raise LocalProtocolError("the random source gave too few bytes")
        # Each side knows its own salt from the start and the other's from its blob.
        self._salts = {self.side: own_salt, self._peer_side: b""}
        self._payloads: dict[str, bytes] = {}
        self._shared = b""
        self.peer_identity: bytes | None = None
        self.peer_capabilities: Capabilities | None = None
        self.safety_number: str | None = None
        self.remote_sdp: str | None = None
        self._done = False

    # --- the inviter: blob 1, then blob 2 in ----------------------------------------
    def first_blob(self, offer_sdp: str) -> str:
        self._require(inviter=True, step=not self._payloads)
        return encode_blob(KIND_PINNED_1, [self._salts[self.side], self._seal_own(offer_sdp)])

    def receive_second(self, blob: str) -> str:
        """The joiner's answer SDP (full form), once its blob opened and verified."""
        self._require(inviter=True, step=len(self._payloads) == 1)
        self._salts[JOINER_SIDE], sealed = self._checked(decode_blob(blob, KIND_PINNED_2))
        return self._open_peer(sealed)

    # --- the joiner: blob 1 in, then blob 2 ------------------------------------------
    def receive_first(self, blob: str) -> str:
        """The inviter's offer SDP (full form), once its blob opened and verified."""
        self._require(inviter=False, step=not self._payloads)
        self._salts[INVITER_SIDE], sealed = self._checked(decode_blob(blob, KIND_PINNED_1))
        return self._open_peer(sealed)

    def second_blob(self, answer_sdp: str) -> str:
        self._require(inviter=False, step=len(self._payloads) == 1)
        return encode_blob(KIND_PINNED_2, [self._salts[self.side], self._seal_own(answer_sdp)])

    # --- internals --------------------------------------------------------------------
    def _require(self, *, inviter: bool, step: bool) -> None:
        if self._done:
            raise LocalProtocolError("this copy-paste meeting has failed or finished")
        if (self.side == INVITER_SIDE) != inviter or not step:
            raise LocalProtocolError("that step is not due now in this copy-paste meeting")

    def _checked(self, fields: list[bytes]) -> tuple[bytes, bytes]:
        salt, sealed = fields
        if len(salt) != SALT_SIZE:
            raise RemoteProtocolError("the blob's salt has the wrong size")
        if len(sealed) > MAX_SEALED_PLAINTEXT + nacl.secret.SecretBox.MACBYTES:
            raise RemoteProtocolError("the blob's sealed details are too long")
        return salt, sealed

    def _salt_bytes(self, side: str) -> bytes:
        """What ``side``'s key and signature cover: the inviter's salt, then the joiner's."""
        if side == INVITER_SIDE:
            return self._salts[INVITER_SIDE]
        return self._salts[INVITER_SIDE] + self._salts[JOINER_SIDE]

    def _box(self, side: str) -> nacl.secret.SecretBox:
        return nacl.secret.SecretBox(
            _psk_key(self._psk, side.encode("ascii") + b"|" + self._salt_bytes(side))
        )

    def _signed(self, side: str, ephemeral: bytes, sdp: bytes) -> bytes:
        return hash_items((_SIGNATURE_LABEL, side.encode(), self._salt_bytes(side), ephemeral, sdp))

    def _seal_own(self, sdp_text: str) -> bytes:
        sdp = compact_sdp(sdp_text).encode("ascii")
        ephemeral = crypto.x25519_public(self._ephemeral)
        version = pack_version(bytes(self._identity.verify_key), ephemeral, self._capabilities)
        signature = self._identity.sign(self._signed(self.side, ephemeral, sdp)).signature
        payload = bytes(msgpack.packb([version, sdp, bytes(signature)], use_bin_type=True))
        self._payloads[self.side] = payload
        return bytes(self._box(self.side).encrypt(payload, _NONCE).ciphertext)

    def _open_peer(self, sealed: bytes) -> str:
        try:
            try:
                payload = bytes(self._box(self._peer_side).decrypt(sealed, _NONCE))
            except nacl.exceptions.CryptoError as exc:
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
            handshake.verify_signature(
                peer.identity,
                self._signed(self._peer_side, peer.ephemeral, sdp),
                signature,
                "the contact's connection details are not signed by their pinned key",
            )
            self.remote_sdp = expand_sdp(sdp_text)
        except RemoteProtocolError:
            self._done = True
            raise
        self._shared = crypto.x25519(self._ephemeral, peer.ephemeral)
        self._payloads[self._peer_side] = payload
        self.peer_identity = peer.identity
        self.peer_capabilities = peer.capabilities
        self.safety_number = crypto.safety_number(bytes(self._identity.verify_key), peer.identity)
        return self.remote_sdp

    # --- bind (over the data channel) ---------------------------------------------------
    def transcript(self) -> bytes:
        if len(self._payloads) != 2:
            raise LocalProtocolError("the transcript is complete only after both blobs")
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

    def bind_message(self) -> bytes:
        return handshake.bind_message(
            self._identity, _psk_key(self._psk, b"bind"), _BIND_LABEL, self.transcript(), self.side
        )

    def receive_bind(self, data: bytes) -> SessionKeys:
        if self._done:
            raise LocalProtocolError("this copy-paste meeting has failed or finished")
        try:
            return self._verify_bind(data)
        finally:
            self._done = True

    def _verify_bind(self, data: bytes) -> SessionKeys:
        assert self.peer_identity is not None and self.peer_capabilities is not None
        assert self.safety_number is not None
        transcript = self.transcript()
        verify_bind(
            data,
            peer_identity=self.peer_identity,
            mac_key=_psk_key(self._psk, b"bind"),
            label=_BIND_LABEL,
            transcript=transcript,
            peer_side=self._peer_side,
            peer="the contact",
            attempt="session",
        )
        return session_keys(
            role=self.role,
            shared_secret=self._shared,
            stream_ikm=_psk_key(self._psk, b"stream"),
            transcript=transcript,
            safety_number=self.safety_number,
            peer_identity=self.peer_identity,
            peer_capabilities=self.peer_capabilities,
            reconnect_psk=self._psk,
        )


__all__ = ["SALT_SIZE", "ManualReconnect"]
