"""Pinned contacts: petname -> identity key (TOFU), verification, blocklist, reconnect PSK.

``contacts.json`` (mode 0600, it holds reconnect secrets) is rewritten with
``write_atomic`` after every change, under a lock on the configuration
directory so that two p2pchat processes never lose each other's changes.
Nothing of a conversation is ever stored here: only who, since when, and how
to reconnect.

Trust on first use: the first key seen under a petname is pinned. A different
key for that petname, or a pinned key offered under another name, raises
``KeyChanged`` with an SSH-style warning; re-pairing is deliberate, through
``replace_key``. Petnames are labels typed by the user or offered by a peer:
validated (length, no control characters, no path separators) and never used
as paths.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_INPUT_REJECTED, EXIT_PAIRING_FAILED, EXIT_USAGE
from p2pchat.store import contact_secrets, paths
from p2pchat.store.atomic import directory_lock, read_limited, write_atomic

FORMAT_NAME: Final = "p2pchat-contacts"
FORMAT_VERSION: Final = 1
# Written when an entry's secrets are sealed, so that an older p2pchat says "written by a
# newer p2pchat" instead of calling the file corrupt.
SEALED_FORMAT_VERSION: Final = 2
FILE_MODE: Final = 0o600
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_CONTACTS: Final = 10_000
MAX_PETNAME_CHARS: Final = 64
IDENTITY_KEY_BYTES: Final = 32
PSK_BYTES: Final = 32
SAFETY_NUMBER_DIGITS: Final = 60
_FORBIDDEN_IN_PETNAME: Final = frozenset("/\\")


class ContactError(P2PChatError):
    """A contact operation cannot be done (unknown name, invalid petname, ...)."""

    exit_code = EXIT_USAGE


class ContactNotFound(ContactError):
    """No contact has that petname."""


class ContactsCorrupt(ContactError):
    """``contacts.json`` does not parse; it was kept as it is and a copy saved aside."""

    exit_code = EXIT_INPUT_REJECTED


class KeyChanged(ContactError):
    """A peer's identity key does not match what is pinned: possibly an attack."""

    exit_code = EXIT_PAIRING_FAILED  # it stops a pairing, like a wrong code

    def __init__(
        self, message: str, *, petname: str, pinned_key: bytes, offered_key: bytes
    ) -> None:
        super().__init__(message)
        self.petname = petname
        self.pinned_key = pinned_key
        self.offered_key = offered_key


class KeyAlreadyPinned(KeyChanged):
    """The offered key is already pinned under a different petname."""

    def __init__(self, *, petname: str, other_petname: str, key: bytes) -> None:
        super().__init__(
            f"This identity (fingerprint {fingerprint(key)}) is already pinned as "
            f"{other_petname!r}; it was not pinned again as {petname!r}. Rename the "
            f"contact instead: p2pchat contacts rename {other_petname!r} {petname!r}",
            petname=petname,
            pinned_key=key,
            offered_key=key,
        )
        self.other_petname = other_petname


def _key_changed(petname: str, pinned_key: bytes, offered_key: bytes) -> KeyChanged:
    return KeyChanged(
        "WARNING: THE IDENTITY KEY OF "
        f"{petname!r} HAS CHANGED!\n"
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
        "Someone could be intercepting this conversation (a man-in-the-middle attack),\n"
        f"or {petname!r} may have reinstalled p2pchat or moved to a new device.\n"
        f"Pinned key fingerprint:  {fingerprint(pinned_key)}\n"
        f"Offered key fingerprint: {fingerprint(offered_key)}\n"
        "Nothing was changed. Ask them through another channel; if they really have a new\n"
        "key, pair again with a new code and accept the new key deliberately.",
        petname=petname,
        pinned_key=pinned_key,
        offered_key=offered_key,
    )


@dataclass(frozen=True)
class Contact:
    """One pinned peer. Times are Unix seconds."""

    petname: str
    identity_key: bytes = field(repr=False)
    safety_number: str
    verified: bool
    blocked: bool
    first_seen: float
    last_seen: float
    reconnect_psk: bytes = field(repr=False)  # empty while the secrets are locked
    # The fallback for one meeting after a ratchet step, and where to meet (fixed at
    # pairing): see ``store.contact_secrets``.
    previous_psk: bytes = field(default=b"", repr=False)
    meeting_key: bytes = field(default=b"", repr=False)
    sealed_secrets: bytes = field(default=b"", repr=False)

    @property
    def fingerprint(self) -> str:
        """The printable fingerprint of the contact's identity key."""
        return fingerprint(self.identity_key)

    @property
    def locked(self) -> bool:
        """The secrets are sealed with an identity (passphrase) this book was not opened with."""
        return not self.reconnect_psk

    def secrets(self) -> contact_secrets.Secrets:
        return contact_secrets.Secrets(
            self.reconnect_psk, self.previous_psk, self.meeting_key, self.sealed_secrets
        )


def validate_petname(petname: str) -> str:
    """The petname normalised (NFC, surrounding spaces stripped), or ``ContactError``."""
    if not isinstance(petname, str):
        raise ContactError("A petname must be text.")
    name = unicodedata.normalize("NFC", petname).strip()
    if not name:
        raise ContactError("A petname cannot be empty.")
    if len(name) > MAX_PETNAME_CHARS:
        raise ContactError(f"A petname can have at most {MAX_PETNAME_CHARS} characters.")
    for char in name:
        # Category C covers control, format (bidi overrides), surrogate and unassigned.
        if unicodedata.category(char).startswith("C"):
            raise ContactError("A petname cannot contain control or invisible characters.")
        if char in _FORBIDDEN_IN_PETNAME:
            raise ContactError("A petname cannot contain '/' or '\\'.")
    if name in {".", ".."}:
        raise ContactError("A petname cannot be '.' or '..'.")
    return name


def _same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _check_key(identity_key: bytes) -> bytes:
    if not isinstance(identity_key, bytes) or len(identity_key) != IDENTITY_KEY_BYTES:
        raise ContactError(f"An identity key must be {IDENTITY_KEY_BYTES} bytes.")
    return identity_key


def _check_psk(psk: bytes) -> bytes:
    if not isinstance(psk, bytes) or len(psk) != PSK_BYTES:
        raise ContactError(f"A reconnect secret must be {PSK_BYTES} bytes.")
    return psk


def _check_safety_number(number: str) -> str:
    digits = number.replace(" ", "") if isinstance(number, str) else ""
    if len(digits) != SAFETY_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        raise ContactError(f"A safety number must be {SAFETY_NUMBER_DIGITS} digits.")
    return digits


class ContactBook:
    """The pinned contacts in ``path`` (default: ``contacts.json`` in the config directory).

    The file is read on construction; a missing file is an empty book. Every
    change re-reads the file under the directory lock, applies itself and saves.
    """

    def __init__(self, path: Path | None = None, *, secrets_key: bytes | None = None) -> None:
        self.path = path if path is not None else paths.contacts_path()
        # With a key (the identity is sealed), every contact's secrets are written sealed.
        self._secrets_key = secrets_key
        self._contacts: list[Contact] = []
        self.reload()

    # reading

    def reload(self) -> None:
        """Re-read the file (``ContactsCorrupt`` if it does not parse)."""
        self._contacts = self._read()

    @property
    def contacts(self) -> list[Contact]:
        """All contacts, sorted by petname."""
        return sorted(self._contacts, key=lambda c: c.petname.casefold())

    def __iter__(self) -> Iterator[Contact]:
        return iter(self.contacts)

    def __len__(self) -> int:
        return len(self._contacts)

    def get(self, petname: str) -> Contact | None:
        """The contact called ``petname`` (case-insensitive), or None."""
        return _find_name(self._contacts, petname)

    def find_by_key(self, identity_key: bytes) -> Contact | None:
        """The contact pinned to ``identity_key``, or None."""
        return _find_key(self._contacts, identity_key)

    # changing

    def pin(
        self,
        petname: str,
        identity_key: bytes,
        safety_number: str,
        psk: bytes,
        now: float | None = None,
        *,
        free_name: bool = False,
    ) -> Contact:
        """Pin ``identity_key`` under ``petname`` (trust on first use).

        Pinning the same key under the same name again refreshes the reconnect
        secret and ``last_seen``. Raises ``KeyChanged`` when the name is pinned
        to another key, ``KeyAlreadyPinned`` when the key has another name.
        With ``free_name``, a taken ``petname`` becomes ``petname-2``, ``-3``...,
        chosen under the lock from the file as it is then: two nameless peers pinned
        at the same moment never get one name (and a false "key changed" warning).
        """
        name, key, number, secret, when = _checked_pin(
            petname, identity_key, safety_number, psk, now
        )

        def change(contacts: list[Contact]) -> Contact:
            nonlocal name
            name = _free_name(contacts, name) if free_name else name
            existing = _find_name(contacts, name)
            if existing is not None and existing.identity_key != key:
                raise _key_changed(existing.petname, existing.identity_key, key)
            _refuse_key_pinned_elsewhere(contacts, key, name)
            if existing is not None:
                return _replace(
                    contacts,
                    existing,
                    safety_number=number,
                    last_seen=max(existing.last_seen, when),
                    **_fresh_secrets(secret),
                )
            if len(contacts) >= MAX_CONTACTS:
                raise ContactError(f"The contact list is full ({MAX_CONTACTS} contacts).")
            contact = Contact(name, key, number, False, False, when, when, **_fresh_secrets(secret))
            contacts.append(contact)
            return contact

        return self._mutate(change)

    def replace_key(
        self,
        petname: str,
        identity_key: bytes,
        safety_number: str,
        psk: bytes,
        now: float | None = None,
    ) -> Contact:
        """Deliberately re-pin ``petname`` to a new key (after a ``KeyChanged``).

        The contact becomes unverified (the old comparison no longer holds);
        blocking is kept. Creates the contact when the name is new.
        """
        name, key, number, secret, when = _checked_pin(
            petname, identity_key, safety_number, psk, now
        )

        def change(contacts: list[Contact]) -> Contact:
            _refuse_key_pinned_elsewhere(contacts, key, name)
            existing = _find_name(contacts, name)
            if existing is None:
                contact = Contact(
                    name, key, number, False, False, when, when, **_fresh_secrets(secret)
                )
                contacts.append(contact)
                return contact
            if existing.identity_key == key:
                return _replace(contacts, existing, safety_number=number, **_fresh_secrets(secret))
            return _replace(
                contacts,
                existing,
                identity_key=key,
                safety_number=number,
                **_fresh_secrets(secret),
                verified=False,
                first_seen=when,
                last_seen=when,
            )

        return self._mutate(change)

    def rename(self, petname: str, new_petname: str) -> Contact:
        """Give a contact another petname (``ContactError`` if the new one is taken)."""
        new_name = validate_petname(new_petname)

        def change(contacts: list[Contact]) -> Contact:
            contact = _require(contacts, petname)
            clash = _find_name(contacts, new_name)
            if clash is not None and clash is not contact:
                raise ContactError(f"There is already a contact named {clash.petname!r}.")
            return _replace(contacts, contact, petname=new_name)

        return self._mutate(change)

    def remove(self, petname: str) -> Contact:
        """Forget a contact (its key, verification and reconnect secret)."""

        def change(contacts: list[Contact]) -> Contact:
            contact = _require(contacts, petname)
            contacts.remove(contact)
            return contact

        return self._mutate(change)

    def block(self, petname: str) -> Contact:
        """Refuse this contact from now on (kept pinned so a new key is still noticed)."""
        return self._update(petname, blocked=True)

    def unblock(self, petname: str) -> Contact:
        """Accept this contact again."""
        return self._update(petname, blocked=False)

    def mark_verified(self, petname: str, verified: bool = True) -> Contact:
        """Record that the safety number was compared (or withdraw that)."""
        return self._update(petname, verified=verified)

    def ratchet(
        self, petname: str, new_psk: bytes, used_psk: bytes, now: float | None = None
    ) -> Contact:
        """After a reconnect that bound: ``new_psk`` is current, ``used_psk`` the fallback."""
        secret, used = _check_psk(new_psk), _check_psk(used_psk)
        when = time.time() if now is None else now

        def change(contacts: list[Contact]) -> Contact:
            contact = _require(contacts, petname)
            if contact.locked:
                raise ContactError(f"The secrets of {contact.petname!r} are locked.")
            return _replace(
                contacts,
                contact,
                reconnect_psk=secret,
                previous_psk=used,
                last_seen=max(contact.last_seen, when),
            )

        return self._mutate(change)

    def seal_with(self, secrets_key: bytes) -> None:
        """From now on seal every contact's secrets with ``secrets_key``; rewrite the file."""
        self._secrets_key = secrets_key
        self.reseal()

    def reseal(self) -> None:
        """Rewrite the file now (sealing every secret when the book has a key)."""

        def change(contacts: list[Contact]) -> Contact | None:
            return None

        self._mutate(change)  # type: ignore[arg-type]

    def touch(self, petname: str, last_seen: float | None = None) -> Contact:
        """Record that the contact was seen at ``last_seen`` (default: now)."""
        when = time.time() if last_seen is None else last_seen

        def change(contacts: list[Contact]) -> Contact:
            contact = _require(contacts, petname)
            return _replace(contacts, contact, last_seen=max(contact.last_seen, when))

        return self._mutate(change)

    # internals

    def _update(self, petname: str, **changes: Any) -> Contact:
        def change(contacts: list[Contact]) -> Contact:
            return _replace(contacts, _require(contacts, petname), **changes)

        return self._mutate(change)

    def _mutate(self, change: Callable[[list[Contact]], Contact]) -> Contact:
        # Re-read under the lock: another process may have changed the file since.
        try:
            with directory_lock(self.path.parent):
                contacts = self._read()
                result = change(contacts)
                write_atomic(self.path, _encode(contacts, self._secrets_key), FILE_MODE)
                self._contacts = contacts
                self._remove_stale_temp_files()
        except OSError as error:  # a read-only or full disk: the file is left as it was
            raise paths.unwritable(f"The contacts file {self.path}", error) from None
        return result

    def _remove_stale_temp_files(self) -> None:
        # Every writer of this file holds the directory lock, so a temp file seen
        # under it was left by a writer that crashed; it may hold reconnect secrets.
        pattern = re.compile(rf"\.{re.escape(self.path.name)}\.[a-z0-9_]{{8}}\.tmp")
        for leftover in self.path.parent.iterdir():
            if pattern.fullmatch(leftover.name):
                leftover.unlink(missing_ok=True)

    def _read(self) -> list[Contact]:
        try:
            data = read_limited(self.path, MAX_FILE_BYTES, f"The contacts file {self.path}")
        except FileNotFoundError:
            return []
        except ValueError as error:
            raise ContactsCorrupt(f"{error}. It was left untouched.") from None
        except OSError as error:  # a folder in its place, no permission
            raise ContactsCorrupt(
                f"The contacts file {self.path} cannot be read: "
                f"{(error.strerror or str(error)).lower()}. It was left untouched."
            ) from None
        try:
            return _decode(data, self._secrets_key)
        except _Malformed as error:
            try:
                copy = f"a copy saved as {self._save_corrupt_copy(data).name}"
            except OSError:  # a read-only or full disk: the original is still there
                copy = "no copy could be saved"
            raise ContactsCorrupt(
                f"The contacts file {self.path} is unreadable ({error}). It was left "
                f"untouched and {copy}. Restore it from a backup, "
                "or move it aside to start an empty contact list."
            ) from None

    def _save_corrupt_copy(self, data: bytes) -> Path:
        # One copy per distinct damaged content, however often it is loaded.
        for existing in sorted(self.path.parent.glob(self.path.name + ".corrupt-*")):
            try:
                if existing.stat().st_size == len(data) and existing.read_bytes() == data:
                    return existing
            except OSError:
                continue
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(100):
            suffix = f".corrupt-{stamp}" + (f"-{attempt}" if attempt else "")
            backup = self.path.with_name(self.path.name + suffix)
            try:
                write_atomic(backup, data, FILE_MODE, exclusive=True)
            except FileExistsError:
                continue
            return backup
        raise ContactsCorrupt(f"The contacts file {self.path} is unreadable; left untouched.")


def _checked_pin(
    petname: str, identity_key: bytes, safety_number: str, psk: bytes, now: float | None
) -> tuple[str, bytes, str, bytes, float]:
    """The arguments of a pin, validated, and the time it happens."""
    return (
        validate_petname(petname),
        _check_key(identity_key),
        _check_safety_number(safety_number),
        _check_psk(psk),
        time.time() if now is None else now,
    )


def _fresh_secrets(psk: bytes) -> dict[str, bytes]:
    fresh = contact_secrets.fresh(psk)
    return {
        "reconnect_psk": fresh.reconnect_psk,
        "previous_psk": fresh.previous_psk,
        "meeting_key": fresh.meeting_key,
        "sealed_secrets": b"",
    }


def _free_name(contacts: list[Contact], base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no contact in ``contacts`` has."""
    if _find_name(contacts, base) is None:
        return base
    for number in range(2, 10_000):
        suffix = f"-{number}"
        candidate = base[: MAX_PETNAME_CHARS - len(suffix)] + suffix
        if _find_name(contacts, candidate) is None:
            return candidate
    raise ContactError("No free petname is left; name the contact yourself with --as NAME.")


def _refuse_key_pinned_elsewhere(contacts: list[Contact], key: bytes, name: str) -> None:
    holder = _find_key(contacts, key)
    if holder is not None and not _same_name(holder.petname, name):
        raise KeyAlreadyPinned(petname=name, other_petname=holder.petname, key=key)


def _replace(contacts: list[Contact], contact: Contact, **changes: Any) -> Contact:
    """``contact`` with ``changes``, put in its place in ``contacts``."""
    updated = dataclasses.replace(contact, **changes)
    contacts[contacts.index(contact)] = updated
    return updated


def _find_name(contacts: list[Contact], petname: str) -> Contact | None:
    try:
        name = validate_petname(petname)
    except ContactError:
        return None
    return next((c for c in contacts if _same_name(c.petname, name)), None)


def _find_key(contacts: list[Contact], identity_key: bytes) -> Contact | None:
    return next((c for c in contacts if c.identity_key == identity_key), None)


def _require(contacts: list[Contact], petname: str) -> Contact:
    contact = _find_name(contacts, petname)
    if contact is None:
        raise ContactNotFound(f"No contact is named {petname!r}; `p2pchat contacts` lists them.")
    return contact


class _Malformed(Exception):
    pass


def _encode(contacts: list[Contact], secrets_key: bytes | None = None) -> bytes:
    sealed = secrets_key is not None or any(c.locked for c in contacts)
    document = {
        "format": FORMAT_NAME,
        "version": SEALED_FORMAT_VERSION if sealed and contacts else FORMAT_VERSION,
        "contacts": [
            {
                "petname": c.petname,
                "identity_key": base64.b64encode(c.identity_key).decode("ascii"),
                "safety_number": c.safety_number,
                "verified": c.verified,
                "blocked": c.blocked,
                "first_seen": c.first_seen,
                "last_seen": c.last_seen,
                **contact_secrets.encode(c.identity_key, c.secrets(), secrets_key),
            }
            for c in sorted(contacts, key=lambda c: c.petname.casefold())
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def _decode(data: bytes, secrets_key: bytes | None = None) -> list[Contact]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deep
        raise _Malformed("it is truncated or damaged") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _Malformed("it is not a p2pchat contacts file")
    version = document.get("version")
    if isinstance(version, bool) or version not in (FORMAT_VERSION, SEALED_FORMAT_VERSION):
        raise _Malformed(f"unsupported format version {version!r}; a newer p2pchat wrote it?")
    entries = document.get("contacts")
    if not isinstance(entries, list):
        raise _Malformed("the contact list is missing")
    if len(entries) > MAX_CONTACTS:
        raise _Malformed(f"more than {MAX_CONTACTS} contacts")
    contacts: list[Contact] = []
    for index, entry in enumerate(entries):
        try:
            contact = _decode_contact(entry, secrets_key)
        except (KeyError, TypeError, ValueError, binascii.Error, ContactError) as error:
            raise _Malformed(f"entry {index + 1} is malformed: {error}") from None
        if _find_name(contacts, contact.petname) or _find_key(contacts, contact.identity_key):
            raise _Malformed(f"entry {index + 1} duplicates another contact")
        contacts.append(contact)
    return contacts


def _decode_contact(entry: object, secrets_key: bytes | None) -> Contact:
    if not isinstance(entry, dict):
        raise TypeError("not an object")

    def flag(name: str) -> bool:
        value = entry[name]
        if not isinstance(value, bool):
            raise TypeError(f"{name} is not true or false")
        return value

    def timestamp(name: str) -> float:
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} is not a number")
        return float(value)

    def blob(name: str) -> bytes:
        value = entry[name]
        if not isinstance(value, str):
            raise TypeError(f"{name} is not text")
        return base64.b64decode(value.encode("ascii"), validate=True)

    petname = entry["petname"]
    if not isinstance(petname, str) or validate_petname(petname) != petname:
        raise ValueError("invalid petname")
    identity_key = _check_key(blob("identity_key"))
    secrets = contact_secrets.decode(entry, identity_key, secrets_key)
    return Contact(
        petname=petname,
        identity_key=identity_key,
        safety_number=_check_safety_number(entry["safety_number"]),
        verified=flag("verified"),
        blocked=flag("blocked"),
        first_seen=timestamp("first_seen"),
        last_seen=timestamp("last_seen"),
        reconnect_psk=secrets.reconnect_psk,
        previous_psk=secrets.previous_psk,
        meeting_key=secrets.meeting_key,
        sealed_secrets=secrets.sealed,
    )
