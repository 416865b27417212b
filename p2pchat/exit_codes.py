"""Exit codes of every p2pchat command, and the mapping from errors to them.

Outside ``cli/`` so that the service and headless front ends can report the same
codes without importing the command line (which imports the TUI).
"""

from __future__ import annotations

from typing import Final

from p2pchat.core.errors import (
    ImageRejected,
    InvalidCode,
    InvalidLabel,
    P2PChatError,
    RemoteProtocolError,
    TransportError,
    UsageError,
    WrongCode,
)

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
EXIT_PAIRING_FAILED: Final = 3
EXIT_PEER_LOST: Final = 4
EXIT_INPUT_REJECTED: Final = 5
EXIT_OUTPUT_FAILED: Final = 6
EXIT_INTERRUPTED: Final = 130

EXIT_CODES: Final = {
    EXIT_OK: "success",
    EXIT_FAILURE: "unexpected failure (a bug: please report it)",
    EXIT_USAGE: "usage or configuration error: bad option, invalid code or argument, "
    "unusable settings.toml, or a folder that cannot be written",
    EXIT_PAIRING_FAILED: "pairing failed: wrong code, or the exchange was tampered with",
    EXIT_PEER_LOST: "the peer was lost, the mailbox server failed or refused, or a transfer "
    "failed (sent but not delivered)",
    EXIT_INPUT_REJECTED: "input rejected: an image was refused or a file unreadable",
    EXIT_OUTPUT_FAILED: "output failed: a received photo could not be saved, or "
    "standard output was closed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_code_for(error: BaseException) -> int:
    """Map an error to the documented exit code (the one it carries, when it carries one)."""
    if isinstance(error, P2PChatError) and error.exit_code is not None:
        return error.exit_code
    if isinstance(error, InvalidCode | InvalidLabel | UsageError):
        return EXIT_USAGE
    if _is_identity_refusal(error):
        return EXIT_PAIRING_FAILED
    store_code = _store_exit_code(error)
    if store_code is not None:
        return store_code
    if isinstance(error, WrongCode):
        return EXIT_PAIRING_FAILED
    if isinstance(error, ImageRejected):
        return EXIT_INPUT_REJECTED
    if isinstance(error, RemoteProtocolError):
        return EXIT_PAIRING_FAILED
    if isinstance(error, TransportError):
        return EXIT_PEER_LOST
    if isinstance(error, OSError):
        return EXIT_INPUT_REJECTED
    return EXIT_FAILURE


def _is_identity_refusal(error: BaseException) -> bool:
    """A changed key or a blocked contact stops pairing: exit 3, like a wrong code."""
    try:
        from p2pchat.contacts_flow import ContactBlocked
        from p2pchat.store.contacts import KeyChanged
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, KeyChanged | ContactBlocked)


def _store_exit_code(error: BaseException) -> int | None:
    """Identity, contacts and settings errors: a wrong passphrase is usage, a bad file input."""
    try:
        from p2pchat.store.contacts import ContactError, ContactsCorrupt
        from p2pchat.store.identity import IdentityCorrupt, PassphraseRequired, WrongPassphrase
        from p2pchat.store.settings import SettingsError
    except ImportError:  # pragma: no cover - the store is part of the package
        return None
    if isinstance(error, SettingsError):
        return EXIT_USAGE
    if isinstance(error, IdentityCorrupt | ContactsCorrupt):
        return EXIT_INPUT_REJECTED
    if isinstance(error, WrongPassphrase | PassphraseRequired | ContactError):
        return EXIT_USAGE
    return None
