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

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from p2pchat.store import contact_secrets, paths, petnames
from p2pchat.store.atomic import directory_lock, read_limited, write_atomic
from p2pchat.store.contact_record import (
    FILE_MODE,
    MAX_CONTACTS,
    MAX_FILE_BYTES,
    MAX_PETNAME_CHARS,
    Contact,
    ContactError,
    ContactNotFound,
    ContactsCorrupt,
    KeyAlreadyPinned,
    KeyChanged,
    Malformed,
    check_key,
    check_psk,
    check_safety_number,
    decode,
    encode,
    find_key,
    find_name,
    key_changed,
    same_name,
    validate_petname,
)

__all__ = [
    "MAX_PETNAME_CHARS",
    "Contact",
    "ContactBook",
    "ContactError",
    "ContactNotFound",
    "ContactsCorrupt",
    "KeyAlreadyPinned",
    "KeyChanged",
    "key_changed",
    "validate_petname",
]


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
        return find_name(self._contacts, petname)

    def find_by_key(self, identity_key: bytes) -> Contact | None:
        """The contact pinned to ``identity_key``, or None."""
        return find_key(self._contacts, identity_key)

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
            if free_name:
                name = petnames.free_name(lambda n: find_name(contacts, n) is not None, name)
            existing = find_name(contacts, name)
            if existing is not None and existing.identity_key != key:
                raise key_changed(existing.petname, existing.identity_key, key)
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
                raise ContactError(f"The contact list is full ({MAX_CONTACTS} contacts).").because(
                    "contacts_full", limit=MAX_CONTACTS
                )
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
            existing = find_name(contacts, name)
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
            clash = find_name(contacts, new_name)
            if clash is not None and clash is not contact:
                raise ContactError(f"There is already a contact named {clash.petname!r}.").because(
                    "contact_name_taken", name=clash.petname
                )
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
        secret, used = check_psk(new_psk), check_psk(used_psk)
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
                write_atomic(self.path, encode(contacts, self._secrets_key), FILE_MODE)
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
            return decode(data, self._secrets_key)
        except Malformed as error:
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
        check_key(identity_key),
        check_safety_number(safety_number),
        check_psk(psk),
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


def _refuse_key_pinned_elsewhere(contacts: list[Contact], key: bytes, name: str) -> None:
    holder = find_key(contacts, key)
    if holder is not None and not same_name(holder.petname, name):
        raise KeyAlreadyPinned(petname=name, other_petname=holder.petname, key=key)


def _replace(contacts: list[Contact], contact: Contact, **changes: Any) -> Contact:
    """``contact`` with ``changes``, put in its place in ``contacts``."""
    updated = dataclasses.replace(contact, **changes)
    contacts[contacts.index(contact)] = updated
    return updated


def _require(contacts: list[Contact], petname: str) -> Contact:
    contact = find_name(contacts, petname)
    if contact is None:
        raise ContactNotFound(f"No contact is named {petname!r}; `p2pchat contacts` lists them.")
    return contact
