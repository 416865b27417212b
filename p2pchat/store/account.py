"""This install's account: its identity key and the contact book sealed with it.

When the identity is sealed with a passphrase, the contacts' reconnect secrets
are sealed with a key derived from it (``contact_secrets.secrets_key``).
"""

from __future__ import annotations

from nacl.signing import SigningKey

from p2pchat.store.contact_secrets import secrets_key
from p2pchat.store.contacts import ContactBook
from p2pchat.store.identity import load_or_create


def load_identity_and_book() -> tuple[SigningKey, ContactBook]:
    """The install's signing key and its contact book, sealed when the identity is."""
    identity = load_or_create()
    return identity.signing_key, open_book(identity.signing_key, sealed=identity.sealed)


def open_book(signing_key: SigningKey, *, sealed: bool) -> ContactBook:
    """The contact book; with a sealed identity, contact secrets are sealed with it."""
    return ContactBook(secrets_key=secrets_key(signing_key) if sealed else None)
