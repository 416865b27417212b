"""The install's long-term Ed25519 identity key (``identity.key``, mode 0600).

File format, version 1: the magic line ``p2pchat-identity\\n`` followed by one
JSON object::

    {"version": 1, "public": <b64>, "sealed": false, "seed": <b64 32 bytes>}
    {"version": 1, "public": <b64>, "sealed": true,
     "kdf": {"alg": "argon2id", "opslimit": N, "memlimit": N, "salt": <b64>},
     "box": <b64 SecretBox(seed)>}

A sealed file needs the passphrase (argon2id -> SecretBox key). The public key
is kept in clear so the unsealed seed can be checked against it. A file that
does not parse is reported and left alone: a new identity is never written over
an existing file, because every contact would then see a key-change warning.
The passphrase comes from the caller, ``P2PCHAT_PASSPHRASE`` or getpass; never argv.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import logging
import os
import stat
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.utils
from nacl.signing import SigningKey

from p2pchat.core.crypto import fingerprint as key_fingerprint
from p2pchat.core.errors import P2PChatError
from p2pchat.store import paths
from p2pchat.store.atomic import read_limited, write_atomic

log = logging.getLogger(__name__)

MAGIC: Final = b"p2pchat-identity\n"
FORMAT_VERSION: Final = 1
MAX_FILE_BYTES: Final = 64 * 1024
FILE_MODE: Final = 0o600
PASSPHRASE_ENV: Final = "P2PCHAT_PASSPHRASE"  # noqa: S105 - the variable name, not a secret

# About a second and 256 MiB on a laptop: slow for a guesser, tolerable at start-up.
SEAL_OPSLIMIT: Final = argon2id.OPSLIMIT_MODERATE
SEAL_MEMLIMIT: Final = argon2id.MEMLIMIT_MODERATE
# A file may name its own KDF cost; these bounds stop a doctored one from
# making us allocate gigabytes or spin for minutes.
MAX_OPSLIMIT: Final = argon2id.OPSLIMIT_SENSITIVE * 4
MAX_MEMLIMIT: Final = argon2id.MEMLIMIT_SENSITIVE


class IdentityError(P2PChatError):
    """The identity file cannot be used as it is."""


class IdentityCorrupt(IdentityError):
    """The identity file exists but is not a readable identity; it was left untouched."""


class WrongPassphrase(IdentityError):
    """The passphrase does not open the sealed identity."""


class PassphraseRequired(IdentityError):
    """The identity is sealed and no passphrase was available."""


@dataclass(frozen=True)
class Identity:
    """One install's signing identity. ``created`` is True when it was just made."""

    signing_key: SigningKey = field(repr=False)
    path: Path
    sealed: bool = False
    created: bool = False

    @property
    def public(self) -> bytes:
        """The 32-byte Ed25519 public key peers pin."""
        return bytes(self.signing_key.verify_key)

    @property
    def fingerprint(self) -> str:
        """The printable fingerprint of the public key (what `p2pchat identity` shows)."""
        return key_fingerprint(self.public)


PassphraseSource = Callable[[], str | None]


def passphrase_from_env(env_var: str = PASSPHRASE_ENV) -> str | None:
    """The passphrase in ``env_var``, or None when unset or empty."""
    value = os.environ.get(env_var)
    return value if value else None


def ask_passphrase(
    prompt: str = "Identity passphrase: ",
    *,
    env_var: str = PASSPHRASE_ENV,
    confirm: bool = False,
    repeat: str = "Same passphrase again: ",
) -> str | None:
    """The passphrase from ``env_var``, else from getpass when stdin is a terminal, else None.

    With ``confirm`` a typed passphrase is asked twice and must match.
    """
    from_env = passphrase_from_env(env_var)
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass(repeat) != first:
        raise IdentityError("The two passphrases differ; nothing was changed.")
    return first or None


def load_or_create(
    passphrase: str | None = None,
    *,
    path: Path | None = None,
    ask: PassphraseSource = ask_passphrase,
) -> Identity:
    """Load the identity, or create (and save) a new one when no file exists yet.

    A new identity is sealed when ``passphrase`` is given. For an existing sealed
    file without ``passphrase``, ``ask()`` is consulted. Raises
    ``PassphraseRequired``, ``WrongPassphrase`` or ``IdentityCorrupt``.
    """
    target = path if path is not None else paths.identity_path()
    try:
        return load(passphrase, path=target, ask=ask)
    except FileNotFoundError:
        pass
    try:
        return create(passphrase, path=target)
    except FileExistsError:
        # Another p2pchat process created it between our read and our write.
        return load(passphrase, path=target, ask=ask)


def load(
    passphrase: str | None = None,
    *,
    path: Path | None = None,
    ask: PassphraseSource = ask_passphrase,
) -> Identity:
    """Load an existing identity; ``FileNotFoundError`` when there is none."""
    target = path if path is not None else paths.identity_path()
    try:
        data = read_limited(target, MAX_FILE_BYTES, f"The identity file {target}")
    except ValueError as error:
        raise IdentityCorrupt(f"{error}. {_leave_alone_hint()}") from None
    except FileNotFoundError:
        if target.is_symlink():  # creating a key "through" it would fail, or land elsewhere
            raise IdentityCorrupt(
                f"The identity file {target} is a link to {os.readlink(target)}, which "
                f"does not exist. {_leave_alone_hint()}"
            ) from None
        raise
    except OSError as error:  # a folder in its place, no permission
        raise IdentityCorrupt(
            f"The identity file {target} cannot be read: "
            f"{(error.strerror or str(error)).lower()}. {_leave_alone_hint()}"
        ) from None
    _check_permissions(target)
    record = _parse(data, target)
    public = record["public"]
    if record["sealed"]:
        if passphrase is None:
            passphrase = ask()
        if passphrase is None:
            raise PassphraseRequired(
                f"The identity in {target} is sealed with a passphrase. Set "
                f"{PASSPHRASE_ENV} or run p2pchat in a terminal to type it."
            )
        seed = _unseal(record, passphrase, target)
    else:
        seed = record["seed"]
    signing_key = SigningKey(seed)
    if bytes(signing_key.verify_key) != public:
        raise IdentityCorrupt(
            f"The identity file {target} is inconsistent: its key does not match its "
            f"public half. {_leave_alone_hint()}"
        )
    return Identity(signing_key, target, sealed=bool(record["sealed"]))


def create(
    passphrase: str | None = None,
    *,
    path: Path | None = None,
    replace: bool = False,
    opslimit: int = SEAL_OPSLIMIT,
    memlimit: int = SEAL_MEMLIMIT,
) -> Identity:
    """Make and save a fresh identity (sealed when ``passphrase`` is given).

    Without ``replace`` an existing file raises ``FileExistsError`` and is kept.
    """
    target = path if path is not None else paths.identity_path()
    signing_key = SigningKey.generate()
    data = encode(signing_key, passphrase, opslimit=opslimit, memlimit=memlimit)
    try:
        write_atomic(target, data, FILE_MODE, exclusive=not replace)
    except FileExistsError:
        raise
    except OSError as error:  # a read-only or full disk
        raise paths.unwritable(f"A new identity ({target})", error) from None
    log.info("created a new identity in %s", target)
    return Identity(signing_key, target, sealed=passphrase is not None, created=True)


def save(
    identity: Identity,
    passphrase: str | None = None,
    *,
    opslimit: int = SEAL_OPSLIMIT,
    memlimit: int = SEAL_MEMLIMIT,
) -> Identity:
    """Rewrite the identity's file, sealed with ``passphrase`` or in clear without one."""
    data = encode(identity.signing_key, passphrase, opslimit=opslimit, memlimit=memlimit)
    try:
        write_atomic(identity.path, data, FILE_MODE)
    except OSError as error:
        raise paths.unwritable(f"The identity file {identity.path}", error) from None
    return Identity(identity.signing_key, identity.path, sealed=passphrase is not None)


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
        "public": _b64(bytes(signing_key.verify_key)),
    }
    seed = bytes(signing_key)
    if passphrase is None:
        record.update(sealed=False, seed=_b64(seed))
    else:
        if not passphrase:
            raise IdentityError("An empty passphrase seals nothing; choose a real one.")
        _check_kdf_limits(opslimit, memlimit, Path("<new identity>"))
        salt = nacl.utils.random(argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(_derive_key(passphrase, salt, opslimit, memlimit))
        record.update(
            sealed=True,
            kdf={"alg": "argon2id", "opslimit": opslimit, "memlimit": memlimit, "salt": _b64(salt)},
            box=_b64(bytes(box.encrypt(seed))),
        )
    return MAGIC + json.dumps(record, sort_keys=True).encode("utf-8") + b"\n"


def is_sealed(path: Path | None = None) -> bool:
    """Whether the identity file is sealed (``FileNotFoundError`` when missing)."""
    target = path if path is not None else paths.identity_path()
    try:
        data = read_limited(target, MAX_FILE_BYTES, f"The identity file {target}")
    except ValueError as error:
        raise IdentityCorrupt(f"{error}. {_leave_alone_hint()}") from None
    return bool(_parse(data, target)["sealed"])


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFC so the same passphrase typed on another keyboard or OS gives the same key.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return bytes(
        argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE, secret, salt, opslimit=opslimit, memlimit=memlimit
        )
    )


def _unseal(record: dict[str, Any], passphrase: str, target: Path) -> bytes:
    kdf = record["kdf"]
    key = _derive_key(passphrase, kdf["salt"], kdf["opslimit"], kdf["memlimit"])
    try:
        seed = bytes(nacl.secret.SecretBox(key).decrypt(record["box"]))
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(
            f"Wrong passphrase for the identity in {target}: it does not open. "
            "Check the passphrase (and keyboard layout) and try again."
        ) from None
    if len(seed) != 32:
        raise IdentityCorrupt(
            f"The identity file {target} holds a key of the wrong size. {_leave_alone_hint()}"
        )
    return seed


def _parse(data: bytes, target: Path) -> dict[str, Any]:
    """Validate every field; anything unexpected becomes ``IdentityCorrupt``."""

    def corrupt(reason: str) -> IdentityCorrupt:
        return IdentityCorrupt(
            f"The identity file {target} is unreadable ({reason}). {_leave_alone_hint()}"
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
        record: dict[str, Any] = {"public": _unb64(raw["public"], 32)}
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
            _check_kdf_limits(opslimit, memlimit, target)
            record["kdf"] = {
                "opslimit": opslimit,
                "memlimit": memlimit,
                "salt": _unb64(kdf["salt"], argon2id.SALTBYTES),
            }
            box = _unb64(raw["box"], None)
            if len(box) != nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + 32:
                raise corrupt("the sealed key has the wrong size")
            record["box"] = box
        else:
            record["seed"] = _unb64(raw["seed"], 32)
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise corrupt("a field is missing or malformed") from None
    return record


def _check_kdf_limits(opslimit: int, memlimit: int, target: Path) -> None:
    if not (argon2id.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT) or not (
        argon2id.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT
    ):
        raise IdentityCorrupt(
            f"The identity file {target} asks for key-derivation costs outside the "
            f"allowed range. {_leave_alone_hint()}"
        )


def _check_permissions(target: Path) -> None:
    """Tighten a key file others can read (an editor or a copy may have loosened it)."""
    if os.name != "posix":  # pragma: no cover
        return
    mode = stat.S_IMODE(target.stat().st_mode)
    if mode & 0o077:
        try:
            target.chmod(FILE_MODE)
        except OSError as error:
            log.warning(
                "%s is readable by other users (mode %o) and could not be fixed: %s. "
                "Run: chmod 600 %s",
                target,
                mode,
                error.strerror,
                target,
            )
        else:
            log.warning(
                "%s was readable by other users (mode %o); it is now 0600. If other people "
                "use this machine, consider making a new identity.",
                target,
                mode,
            )


def _leave_alone_hint() -> str:
    return (
        "It was left untouched. Restore it from a backup, or move it aside to start "
        "with a new identity (your contacts will then see a key-change warning)."
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, length: int | None) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not a string")
    data = base64.b64decode(text.encode("ascii"), validate=True)
    if length is not None and len(data) != length:
        raise ValueError("wrong length")
    return data
