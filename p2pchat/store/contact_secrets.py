"""A contact's secrets in ``contacts.json``: in clear, or sealed with the identity.

The secrets are the reconnect key (it ratchets after each meeting), the previous
one (the fallback for one meeting) and the meeting key (where to meet). When the
identity is sealed with a passphrase, the front ends open the contact book with
``secrets_key(identity)``: every contact's secrets are then written as one
SecretBox under a key derived from the identity's private key, which only the
passphrase unlocks. Whoever copies ``contacts.json`` alone, or with a sealed
``identity.key`` but not the passphrase, learns who the contacts are, not how
to meet them or read their recorded meetings.

A book opened without the key (``p2pchat contacts``: list, rename, block) keeps
sealed secrets as they are and reports the contact as locked.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Final

import nacl.exceptions
import nacl.secret
import nacl.signing

from p2pchat.core.crypto import hkdf_sha256
from p2pchat.core.handshake import meeting_key as derive_meeting_key

SEALED_FIELD: Final = "sealed_secrets"
KEY_BYTES: Final = 32
_LABEL: Final = b"p2pchat/v1 contacts.json secrets"
MAX_SEALED_CHARS: Final = 1024


@dataclass(frozen=True)
class Secrets:
    """What a contact entry holds to meet again; empty bytes when locked."""

    reconnect_psk: bytes
    previous_psk: bytes
    meeting_key: bytes
    sealed: bytes  # the sealed form as read, kept when it could not be opened


def secrets_key(identity: nacl.signing.SigningKey) -> bytes:
    """The key that seals contact secrets: derived from the identity's private seed."""
    return hkdf_sha256(bytes(identity), _LABEL)


def fresh(psk: bytes) -> Secrets:
    """The secrets of a new pairing: no previous key, the meeting key from this one."""
    return Secrets(psk, b"", derive_meeting_key(psk), b"")


def encode(identity_key: bytes, secrets: Secrets, key: bytes | None) -> dict[str, str]:
    """The entry's secret fields: sealed with ``key``, else in clear (or kept sealed)."""
    if not secrets.reconnect_psk:  # locked: written back exactly as read
        return {SEALED_FIELD: _b64(secrets.sealed)}
    clear = {
        "reconnect_psk": _b64(secrets.reconnect_psk),
        "previous_psk": _b64(secrets.previous_psk),
        "meeting_key": _b64(secrets.meeting_key),
    }
    if key is None:
        return clear
    # The identity key inside: a sealed blob moved to another contact's entry does not open.
    plaintext = json.dumps({**clear, "identity_key": _b64(identity_key)}).encode("ascii")
    return {SEALED_FIELD: _b64(bytes(nacl.secret.SecretBox(key).encrypt(plaintext)))}


def decode(entry: dict[str, Any], identity_key: bytes, key: bytes | None) -> Secrets:
    """The entry's secrets; locked (empty) when sealed and ``key`` does not open them.

    Raises ``ValueError``/``KeyError``/``TypeError`` for a malformed entry.
    """
    if SEALED_FIELD in entry:
        text = entry[SEALED_FIELD]
        if not isinstance(text, str) or len(text) > MAX_SEALED_CHARS:
            raise ValueError("the sealed secrets are malformed")
        sealed = base64.b64decode(text.encode("ascii"), validate=True)
        if key is None:
            return Secrets(b"", b"", b"", sealed)
        try:
            plaintext = nacl.secret.SecretBox(key).decrypt(sealed)
        except nacl.exceptions.CryptoError:
            return Secrets(b"", b"", b"", sealed)  # another identity sealed them
        inner = json.loads(plaintext.decode("ascii"))
        if not isinstance(inner, dict) or _blob(inner, "identity_key", 32) != identity_key:
            raise ValueError("the sealed secrets belong to another contact")
        entry = inner
    psk = _blob(entry, "reconnect_psk", KEY_BYTES)
    previous = _blob(entry, "previous_psk", KEY_BYTES, optional=True)
    # Before the ratchet, contacts had one key: the meeting key comes from it.
    meeting = _blob(entry, "meeting_key", KEY_BYTES, optional=True) or derive_meeting_key(psk)
    return Secrets(psk, previous, meeting, b"")


def _blob(entry: dict[str, Any], name: str, size: int, *, optional: bool = False) -> bytes:
    if optional and not entry.get(name):
        return b""
    value = entry[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is not text")
    data = base64.b64decode(value.encode("ascii"), validate=True)
    if len(data) != size:
        raise ValueError(f"{name} must be {size} bytes")
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
