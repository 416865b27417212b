"""The user's own things front ends read or change: settings, and the identity key.

Front ends never open ``settings.toml`` themselves: they read it with
``load_settings()`` and record a change with ``update_settings(**changes)``
(``store.settings`` does the file work, mode 0600, and raises
``SettingsError``, exit 2, for a value it cannot use). The STUN and TURN
defaults are here too, for the command line's network options. The identity
(``store.identity``) is loaded here, and sealed together with the contacts'
secrets when the user chooses a passphrase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2pchat.store.settings import (
    DEFAULT_STUN_URLS,
    DEFAULT_TRANSIT_RELAY,
    Settings,
    SettingsError,
    load_settings,
    update_settings,
)

if TYPE_CHECKING:
    # Neither the identity store (its crypto) nor the contact book (and the handshakes
    # it checks pins with) is loaded to read a setting: the command line reads the
    # settings on its way to a code, and loads these only when it uses them.
    from p2pchat.service.contacts import Contacts
    from p2pchat.store.identity import Identity
    from p2pchat.store.identity import load_or_create as load_identity

_IDENTITY_NAMES = {"Identity": "Identity", "load_identity": "load_or_create"}


def __getattr__(name: str) -> Any:
    if name not in _IDENTITY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from p2pchat.store import identity

    return getattr(identity, _IDENTITY_NAMES[name])


__all__ = [
    "DEFAULT_STUN_URLS",
    "DEFAULT_TRANSIT_RELAY",
    "Identity",
    "Settings",
    "SettingsError",
    "load_identity",
    "load_settings",
    "seal_identity",
    "update_settings",
]


def seal_identity(identity: Identity, passphrase: str, contacts: Contacts) -> None:
    """Seal ``identity`` with ``passphrase``, then the contacts' secrets with a key of it."""
    from p2pchat.store.contact_secrets import secrets_key  # see the TYPE_CHECKING note above
    from p2pchat.store.identity import save

    save(identity, passphrase)
    contacts.seal_with(secrets_key(identity.signing_key))
