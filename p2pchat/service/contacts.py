"""The user's contacts as every front end sees them: one small facade over the book.

``Contacts`` lists, renames, blocks and unblocks, verifies and forgets
contacts, records "last seen", and gives each pairing its ``ContactGuard``.
It re-reads the book before answering, since another p2pchat process may have
changed it. Front ends use this and never ``store.contacts`` itself; the store's
types they show or catch are re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path

from nacl.signing import SigningKey

from p2pchat.service.contact_guard import (
    ContactBlocked,
    ContactGuard,
    as_key_changed,
    blocked_error,
    unlocked,
)
from p2pchat.store.account import load_identity_and_book, open_book
from p2pchat.store.contacts import (
    Contact,
    ContactBook,
    ContactError,
    ContactNotFound,
    ContactsCorrupt,
    KeyAlreadyPinned,
    KeyChanged,
    key_changed,
)

__all__ = [
    "Contact",
    "ContactBlocked",
    "ContactError",
    "ContactGuard",
    "ContactNotFound",
    "Contacts",
    "ContactsCorrupt",
    "KeyAlreadyPinned",
    "KeyChanged",
    "as_key_changed",
    "blocked_error",
    "key_changed",
    "unlocked",
]


class Contacts:
    """The contact book of this install (``ContactError`` for what cannot be done)."""

    def __init__(self, book: ContactBook | None = None) -> None:
        self.book = book if book is not None else ContactBook()

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Contacts:
        """The book kept in the file at ``path`` (the demo keeps its own beside the lesson)."""
        return cls(ContactBook(Path(path)))

    @classmethod
    def of_identity(cls, signing_key: SigningKey, *, sealed: bool) -> Contacts:
        """The book whose secrets are sealed with ``signing_key`` when the identity is."""
        return cls(open_book(signing_key, sealed=sealed))

    @classmethod
    def load(cls) -> tuple[SigningKey, Contacts]:
        """This install's identity key (may ask a passphrase) and its contacts."""
        key, book = load_identity_and_book()
        return key, cls(book)

    def list(self) -> list[Contact]:
        self.book.reload()
        return self.book.contacts

    def get(self, petname: str) -> Contact | None:
        self.book.reload()
        return self.book.get(petname)

    def require(self, petname: str) -> Contact:
        contact = self.get(petname)
        if contact is None:
            raise ContactNotFound(
                f"No contact is named {petname!r}; `p2pchat contacts` lists them."
            ).because("contact_not_named", name=petname)
        return contact

    def pin(self, petname: str, identity_key: bytes, safety_number: str, psk: bytes) -> Contact:
        """Pin ``identity_key`` under ``petname`` (trust on first use; see the store's ``pin``)."""
        return self.book.pin(petname, identity_key, safety_number, psk)

    def rename(self, petname: str, new_petname: str) -> Contact:
        return self.book.rename(petname, new_petname)

    def block(self, petname: str) -> Contact:
        return self.book.block(petname)

    def unblock(self, petname: str) -> Contact:
        return self.book.unblock(petname)

    def verify(self, petname: str, verified: bool = True) -> Contact:
        """Mark the safety number compared in person (or take that back)."""
        return self.book.mark_verified(petname, verified)

    def forget(self, petname: str) -> Contact:
        return self.book.remove(petname)

    def touch(self, petname: str) -> Contact:
        """Record that ``petname`` was seen now (a locked, fsynced write: not on a loop)."""
        return self.book.touch(petname)

    def seal_with(self, secrets_key: bytes) -> None:
        """From now on seal every contact's secrets with ``secrets_key`` (rewrites the file)."""
        self.book.seal_with(secrets_key)

    def reseal(self) -> None:
        """Rewrite the book with its secrets sealed as this facade was opened."""
        self.book.reseal()

    def guard(
        self,
        *,
        petname: str | None = None,
        expected: Contact | None = None,
        replace_key: bool = False,
    ) -> ContactGuard:
        """A fresh ``peer_check`` for one pairing (see ``ContactGuard``)."""
        return ContactGuard(self.book, petname=petname, expected=expected, replace_key=replace_key)
