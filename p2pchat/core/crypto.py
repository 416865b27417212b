"""Key schedule, sealed boxes, per-direction secretstreams and safety numbers.

Small and precise on purpose (PyNaCl's ``secret.py`` is the model): sizes are
constants, every failure to authenticate is a ``DecryptError``, randomness can be
injected for known-answer tests.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Final

import nacl.bindings as sodium
import nacl.exceptions
import nacl.secret

from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError

KEY_SIZE: Final = 32
HASH_SIZE: Final = 32
NONCE_SIZE: Final = nacl.secret.SecretBox.NONCE_SIZE  # 24
BOX_OVERHEAD: Final = nacl.secret.SecretBox.MACBYTES  # 16
STREAM_HEADER_SIZE: Final = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
STREAM_OVERHEAD: Final = sodium.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
X25519_KEY_SIZE: Final = 32
SAFETY_NUMBER_DIGITS: Final = 60
SAFETY_NUMBER_ITERATIONS: Final = 5200

RandomSource = Callable[[int], bytes]

_LABEL: Final = b"p2pchat/v1"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hkdf_sha256(ikm: bytes, info: bytes, salt: bytes = b"", length: int = KEY_SIZE) -> bytes:
    """RFC 5869 HKDF with SHA-256."""
    if length > 255 * HASH_SIZE:
        raise LocalProtocolError("HKDF output too long")
    prk = hmac.new(salt or bytes(HASH_SIZE), ikm, hashlib.sha256).digest()
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def phase_key(pake_key: bytes, side: str, phase: str) -> bytes:
    """The key that seals one side's message of one phase (magic-wormhole's scheme)."""
    info = _LABEL + b":phase:" + sha256(side.encode()) + sha256(phase.encode())
    return hkdf_sha256(pake_key, info)


def purpose_key(pake_key: bytes, purpose: str) -> bytes:
    """A key for one named purpose (bind MAC, reconnect PSK, ...), independent of the others."""
    return hkdf_sha256(pake_key, _LABEL + b":purpose:" + purpose.encode())


def seal(key: bytes, plaintext: bytes, random: RandomSource = os.urandom) -> bytes:
    """XSalsa20-Poly1305 with a random nonce prepended."""
    nonce = random(NONCE_SIZE)
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext, nonce))


def open_sealed(key: bytes, sealed: bytes) -> bytes:
    if len(sealed) < NONCE_SIZE + BOX_OVERHEAD:
        raise DecryptError("sealed message too short")
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(sealed))
    except nacl.exceptions.CryptoError as exc:
        raise DecryptError("sealed message did not authenticate") from exc


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def x25519(private: bytes, peer_public: bytes) -> bytes:
    """Diffie-Hellman; refuses low-order peer points (all-zero shared secret)."""
    if len(peer_public) != X25519_KEY_SIZE:
        raise RemoteProtocolError("peer ephemeral key has the wrong size")
    try:
        shared = sodium.crypto_scalarmult(private, peer_public)
    except nacl.exceptions.CryptoError as exc:
        raise RemoteProtocolError("peer ephemeral key is not a valid curve point") from exc
    if not any(shared):
        raise RemoteProtocolError("peer ephemeral key is a low-order point")
    return bytes(shared)


def x25519_public(private: bytes) -> bytes:
    return bytes(sodium.crypto_scalarmult_base(private))


def session_key(shared_secret: bytes, pake_key: bytes, transcript: bytes, label: str) -> bytes:
    """One stream key: HKDF(ss || K_pake, salt=transcript hash, info=direction/channel)."""
    return hkdf_sha256(shared_secret + pake_key, _LABEL + b":stream:" + label.encode(), transcript)


class StreamSender:
    """One direction of one channel: libsodium secretstream (XChaCha20-Poly1305)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise LocalProtocolError("stream key must be 32 bytes")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.header: bytes = bytes(
            sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        )
        self._finished = False

    def push(self, plaintext: bytes, final: bool = False) -> bytes:
        if self._finished:
            raise LocalProtocolError("stream already finished")
        tag = (
            sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if final
            else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        self._finished = final
        return bytes(
            sodium.crypto_secretstream_xchacha20poly1305_push(self._state, plaintext, None, tag)
        )


class StreamReceiver:
    """The matching receiving end; any failure is a DecryptError and the stream is dead."""

    def __init__(self, key: bytes, header: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise LocalProtocolError("stream key must be 32 bytes")
        if len(header) != STREAM_HEADER_SIZE:
            raise RemoteProtocolError("stream header has the wrong size")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        except nacl.exceptions.CryptoError as exc:  # pragma: no cover - libsodium never fails here
            raise DecryptError("bad stream header") from exc
        self.finished = False
        self._broken = False

    def pull(self, ciphertext: bytes) -> bytes:
        if self._broken or self.finished:
            raise DecryptError("stream is closed; no more frames are accepted")
        if len(ciphertext) < STREAM_OVERHEAD:
            self._broken = True
            raise DecryptError("frame too short to be authentic")
        try:
            plaintext, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, ciphertext, None
            )
        except nacl.exceptions.CryptoError as exc:
            self._broken = True
            raise DecryptError(
                "a frame did not authenticate (modified, dropped, duplicated or reordered)"
            ) from exc
        if tag == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            self.finished = True
        return bytes(plaintext)


def _fingerprint_half(identity_public: bytes) -> str:
    return _stretched_half(bytes(identity_public))


# 5,200 rounds of SHA-512 take about 3 ms of CPU, and a pairing asks for the same key's
# half up to four times (the safety number, the peer's fingerprint in each Paired event,
# our own): once per key is enough. Public keys only; a pure function of its argument.
@lru_cache(maxsize=64)
def _stretched_half(identity_public: bytes) -> str:
    digest = hashlib.sha512(b"\x00\x00" + identity_public + _LABEL).digest()
    for _ in range(SAFETY_NUMBER_ITERATIONS):
        digest = hashlib.sha512(digest + identity_public).digest()
    return "".join(
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5)
    )


def safety_number(identity_a: bytes, identity_b: bytes) -> str:
    """Signal-style numeric fingerprint: 60 digits, the same on both sides."""
    halves = sorted((_fingerprint_half(identity_a), _fingerprint_half(identity_b)))
    return halves[0] + halves[1]


def format_safety_number(number: str) -> str:
    """'12345 67890 ...' in 12 groups of five, as people read them aloud."""
    return " ".join(number[i : i + 5] for i in range(0, len(number), 5))


def fingerprint(identity_public: bytes) -> str:
    """A short printable fingerprint of one identity key (for `p2pchat identity`)."""
    return format_safety_number(_fingerprint_half(identity_public))
