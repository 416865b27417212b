"""The identity file's format: its bytes, sealing with a passphrase, strict parsing, errors.

``identity.py`` loads, creates and saves the identity through ``encode`` and
``parse`` here; every field is checked, and anything unexpected becomes
``IdentityCorrupt`` (the file is then left alone).
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils
from nacl.signing import SigningKey

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_INPUT_REJECTED, EXIT_USAGE

MAGIC: Final = b"p2pchat-identity\n"
FORMAT_VERSION: Final = 1

# About a second and 256 MiB on a laptop: slow for a guesser, tolerable at start-up.
SEAL_OPSLIMIT: Final = argon2id.OPSLIMIT_MODERATE
SEAL_MEMLIMIT: Final = argon2id.MEMLIMIT_MODERATE
# A file may name its own KDF cost; these bounds stop a doctored one from
# making us allocate gigabytes or spin for minutes.
MAX_OPSLIMIT: Final = argon2id.OPSLIMIT_SENSITIVE * 4
MAX_MEMLIMIT: Final = argon2id.MEMLIMIT_SENSITIVE


class IdentityError(P2PChatError):
    """The identity file cannot be used as it is."""

    reason = "identity"

    exit_code = EXIT_USAGE


class IdentityCorrupt(IdentityError):
    """The identity file exists but is not a readable identity; it was left untouched."""

    reason = "identity_corrupt"

    exit_code = EXIT_INPUT_REJECTED


class WrongPassphrase(IdentityError):
    """The passphrase does not open the sealed identity."""

    reason = "wrong_passphrase"


class PassphraseRequired(IdentityError):
    """The identity is sealed and no passphrase was available."""

    reason = "passphrase_required"


def encode(
    signing_key: SigningKey,
    passphrase: str | None,
    *,
    opslimit: int = SEAL_OPSLIMIT,
    memlimit: int = SEAL_MEMLIMIT,
) -> bytes:
    """The identity file's bytes for ``signing_key``."""
    record: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "public": b64(bytes(signing_key.verify_key)),
    }
    seed = bytes(signing_key)
    if passphrase is None:
        record.update(sealed=False, seed=b64(seed))
    else:
        if not passphrase:
            raise IdentityError("An empty passphrase seals nothing; choose a real one.")
        check_kdf_limits(opslimit, memlimit, Path("<new identity>"))
        salt = nacl.utils.random(argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(derive_key(passphrase, salt, opslimit, memlimit))
        record.update(
            sealed=True,
            kdf={"alg": "argon2id", "opslimit": opslimit, "memlimit": memlimit, "salt": b64(salt)},
            box=b64(bytes(box.encrypt(seed))),
        )
    return MAGIC + json.dumps(record, sort_keys=True).encode("utf-8") + b"\n"


def derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFC so the same passphrase typed on another keyboard or OS gives the same key.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return bytes(
        argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, secret, salt, opslimit=opslimit, memlimit=memlimit
        )
    )


def unseal(record: dict[str, Any], passphrase: str, target: Path) -> bytes:
    kdf = record["kdf"]
    key = derive_key(passphrase, kdf["salt"], kdf["opslimit"], kdf["memlimit"])
    try:
        seed = bytes(nacl.secret.SecretBox(key).decrypt(record["box"]))
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(
            f"Wrong passphrase for the identity in {target}: it does not open. "
            "Check the passphrase (and keyboard layout) and try again."
        ) from None
    if len(seed) != 32:
        raise IdentityCorrupt(
            f"The identity file {target} holds a key of the wrong size. {leave_alone_hint()}"
        )
    return seed


def parse(data: bytes, target: Path) -> dict[str, Any]:
    """Validate every field; anything unexpected becomes ``IdentityCorrupt``."""

    def corrupt(reason: str) -> IdentityCorrupt:
        return IdentityCorrupt(
            f"The identity file {target} is unreadable ({reason}). {leave_alone_hint()}"
        )

    if not data:
        raise corrupt("it is empty")
    if not data.startswith(MAGIC):
        raise corrupt("it is not a p2pchat identity file")
    try:
        raw = json.loads(data[len(MAGIC) :].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deep
        raise corrupt("it is truncated or damaged") from None
    if not isinstance(raw, dict):
        raise corrupt("it is damaged")
    version = raw.get("version")
    if version != FORMAT_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > 1:
            raise IdentityError(
                f"The identity file {target} was written by a newer p2pchat (format "
                f"{version}); upgrade p2pchat to use it."
            )
        raise corrupt("unknown format version")
    try:
        record: dict[str, Any] = {"public": unb64(raw["public"], 32)}
        sealed = raw["sealed"]
        if not isinstance(sealed, bool):
            raise corrupt("the 'sealed' field is not true or false")
        record["sealed"] = sealed
        if sealed:
            kdf = raw["kdf"]
            if not isinstance(kdf, dict) or kdf.get("alg") != "argon2id":
                raise corrupt("unknown key derivation")
            opslimit, memlimit = kdf["opslimit"], kdf["memlimit"]
            if not all(
                isinstance(v, int) and not isinstance(v, bool) for v in (opslimit, memlimit)
            ):
                raise corrupt("bad key derivation parameters")
            check_kdf_limits(opslimit, memlimit, target)
            record["kdf"] = {
                "opslimit": opslimit,
                "memlimit": memlimit,
                "salt": unb64(kdf["salt"], argon2id.SALTBYTES),
            }
            box = unb64(raw["box"], None)
            if len(box) != nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + 32:
                raise corrupt("the sealed key has the wrong size")
            record["box"] = box
        else:
            record["seed"] = unb64(raw["seed"], 32)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise corrupt("a field is missing or malformed") from None
    return record


def check_kdf_limits(opslimit: int, memlimit: int, target: Path) -> None:
    if not (argon2id.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT) or not (
        argon2id.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT
    ):
        raise IdentityCorrupt(
            f"The identity file {target} asks for key-derivation costs outside the "
            f"allowed range. {leave_alone_hint()}"
        )


def leave_alone_hint() -> str:
    return (
        "It was left untouched. Restore it from a backup, or move it aside to start "
        "with a new identity (your contacts will then see a key-change warning)."
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, length: int | None) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not a string")
    data = base64.b64decode(text.encode("ascii"), validate=True)
    if length is not None and len(data) != length:
        raise ValueError("wrong length")
    return data
