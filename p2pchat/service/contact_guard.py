"""The contact book's guard on a session: pin, check, refuse, touch; a locked contact's refusal.

``ContactGuard`` is the service's ``peer_check``: it runs once the peer's bind
verified and before ``Paired`` is emitted or any message is read, so a blocked
contact or a changed key stops the session before anything the peer sent is
shown. After a pairing with a code it pins the peer's identity key (trust on
first use) under a petname: the one the user chose, else the peer's announced
label made safe and unique. For a reconnect it insists on the pinned key.

Nothing of a conversation passes through here: only who, and when last seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from p2pchat.core.exit_status import EXIT_PAIRING_FAILED
from p2pchat.core.handshake import IdentityMismatch
from p2pchat.core.keys import SessionKeys
from p2pchat.store.contacts import Contact, ContactBook, ContactError, key_changed, validate_petname
from p2pchat.store.petnames import DEFAULT_PETNAME, petname_from_label


class ContactBlocked(ContactError):
    """The peer is a blocked contact: refused before anything it sent is shown."""

    reason = "contact_blocked"

    exit_code = EXIT_PAIRING_FAILED


class ContactGuard:
    """The ``peer_check`` of one session; ``contact`` is set once it has passed.

    ``petname``: the name the user gave for a first pairing (a clash with a
    different pinned key is ``KeyChanged``). ``expected``: the contact a
    reconnect is meant to reach. ``replace_key``: the user deliberately re-pairs
    a contact whose key changed.
    """

    def __init__(
        self,
        book: ContactBook,
        *,
        petname: str | None = None,
        expected: Contact | None = None,
        replace_key: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.book = book
        self.petname = validate_petname(petname) if petname else None
        self.expected = expected
        self.replace_key = replace_key
        self.clock = clock
        self.contact: Contact | None = None
        self.newly_pinned = False

    def __call__(self, keys: SessionKeys) -> None:
        now = self.clock()
        self.book.reload()  # another process may have blocked or re-pinned meanwhile
        if self.expected is not None:
            self.contact = self._check_expected(self.expected, keys, now)
            return
        known = self.book.find_by_key(keys.peer_identity)
        if known is not None and known.blocked:
            raise blocked_error(known)
        if self.replace_key and self.petname is not None:
            self.contact = self.book.replace_key(
                self.petname, keys.peer_identity, keys.safety_number, keys.reconnect_psk, now
            )
            return
        if known is not None and (self.petname is None or self.book.get(self.petname) is known):
            # Someone we know paired with a fresh code: refresh the reconnect key.
            self.contact = self.book.pin(
                known.petname, keys.peer_identity, keys.safety_number, keys.reconnect_psk, now
            )
            return
        name = self.petname or petname_from_label(keys.peer_capabilities.label)
        if self.petname is None and name == DEFAULT_PETNAME:
            # Nameless peers are not one person: a free ``peer-N``, chosen under the lock.
            self.contact = self.book.pin(
                name,
                keys.peer_identity,
                keys.safety_number,
                keys.reconnect_psk,
                now,
                free_name=True,
            )
            self.newly_pinned = True
            return
        pinned = self.book.get(name)
        if pinned is not None and pinned.blocked:
            raise blocked_error(pinned)
        # An existing name with another key raises KeyChanged: a stranger announcing
        # a known contact's name is exactly what the warning is for.
        self.contact = self.book.pin(
            name, keys.peer_identity, keys.safety_number, keys.reconnect_psk, now
        )
        self.newly_pinned = pinned is None

    def _check_expected(self, expected: Contact, keys: SessionKeys, now: float) -> Contact:
        current = self.book.get(expected.petname)
        if current is None:
            raise ContactError(
                f"{expected.petname!r} was removed from the contacts meanwhile."
            ).because("contact_removed", name=expected.petname)
        if current.blocked:
            raise blocked_error(current)
        if keys.peer_identity != current.identity_key:
            raise key_changed(current.petname, current.identity_key, keys.peer_identity)
        if keys.previous_psk and keys.reconnect_psk != current.reconnect_psk:
            # A reconnect bound: the key ratchets, the one just used is the fallback.
            return self.book.ratchet(current.petname, keys.reconnect_psk, keys.previous_psk, now)
        return self.book.touch(current.petname, now)


def unlocked(contact: Contact) -> Contact:
    """``contact``, or ``ContactError`` when its reconnect secrets cannot be opened."""
    if contact.locked:
        raise ContactError(
            f"The reconnect secret of {contact.petname!r} is sealed by an identity this "
            "p2pchat did not open (another identity key, or no passphrase): meet with a "
            "new code instead."
        )
    return contact


def blocked_error(contact: Contact) -> ContactBlocked:
    return ContactBlocked(
        f"{contact.petname!r} is blocked: the session was refused before anything they "
        f"sent was shown. To accept them again: p2pchat contacts unblock {contact.petname!r}"
    ).because("contact_blocked_named", name=contact.petname)


def as_key_changed(error: BaseException, petname: str) -> BaseException:
    """A reconnect's ``IdentityMismatch`` as the store's SSH-style ``KeyChanged`` warning."""
    if isinstance(error, IdentityMismatch):
        return key_changed(petname, error.pinned_key, error.offered_key)
    return error
