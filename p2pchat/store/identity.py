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

import getpass
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from nacl.signing import SigningKey

from p2pchat.core.crypto import fingerprint as key_fingerprint
from p2pchat.store import paths
from p2pchat.store.atomic import read_limited, write_atomic
from p2pchat.store.identity_file import (
    MAGIC,
    SEAL_MEMLIMIT,
    SEAL_OPSLIMIT,
    IdentityCorrupt,
    IdentityError,
    PassphraseRequired,
    WrongPassphrase,
    encode,
    leave_alone_hint,
    parse,
    unseal,
)

__all__ = [
    "MAGIC",
    "Identity",
    "IdentityCorrupt",
    "IdentityError",
    "PassphraseRequired",
    "WrongPassphrase",
    "ask_passphrase",
    "create",
    "encode",
    "is_sealed",
    "load",
    "load_or_create",
    "passphrase_from_env",
    "save",
]

log = logging.getLogger(__name__)

MAX_FILE_BYTES: Final = 64 * 1024
FILE_MODE: Final = 0o600
PASSPHRASE_ENV: Final = "P2PCHAT_PASSPHRASE"  # noqa: S105 - the variable name, not a secret


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
        raise IdentityCorrupt(f"{error}. {leave_alone_hint()}") from None
    except FileNotFoundError:
        if target.is_symlink():  # creating a key "through" it would fail, or land elsewhere
            raise IdentityCorrupt(
                f"The identity file {target} is a link to {os.readlink(target)}, which "
                f"does not exist. {leave_alone_hint()}"
            ) from None
        raise
    except OSError as error:  # a folder in its place, no permission
        raise IdentityCorrupt(
            f"The identity file {target} cannot be read: "
            f"{(error.strerror or str(error)).lower()}. {leave_alone_hint()}"
        ) from None
    _check_permissions(target)
    record = parse(data, target)
    public = record["public"]
    if record["sealed"]:
        if passphrase is None:
            passphrase = ask()
        if passphrase is None:
            raise PassphraseRequired(
                f"The identity in {target} is sealed with a passphrase. Set "
                f"{PASSPHRASE_ENV} or run p2pchat in a terminal to type it."
            )
        seed = unseal(record, passphrase, target)
    else:
        seed = record["seed"]
    signing_key = SigningKey(seed)
    if bytes(signing_key.verify_key) != public:
        raise IdentityCorrupt(
            f"The identity file {target} is inconsistent: its key does not match its "
            f"public half. {leave_alone_hint()}"
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


def is_sealed(path: Path | None = None) -> bool:
    """Whether the identity file is sealed (``FileNotFoundError`` when missing)."""
    target = path if path is not None else paths.identity_path()
    try:
        data = read_limited(target, MAX_FILE_BYTES, f"The identity file {target}")
    except ValueError as error:
        raise IdentityCorrupt(f"{error}. {leave_alone_hint()}") from None
    return bool(parse(data, target)["sealed"])


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
