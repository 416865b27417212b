"""The four handshakes, and the one skeleton they share.

What the layers above use is importable from here; the modules behind it are:

- ``skeleton``: the state table, transcript, bind and failure rules of all four;
- ``steps``: stateless checks and derivations (side ids, sealed SDPs, bind, keys);
- ``version``: what a side says about itself (version, identity, capabilities);
- ``pairing``: first contact through the mailbox, under a code (``Pairing``);
- ``reconnect`` + ``reconnect_wire``: meeting a pinned contact at a mailbox
  meeting point, under the contact's reconnect key (``Reconnect``);
- ``blobs``: the copy-paste blob format and compact SDPs;
- ``manual``: first contact by copy-paste, under a code (``ManualPairing``);
- ``manual_pinned``: meeting a pinned contact by copy-paste (``ManualReconnect``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p2pchat.core.handshake.blobs import BLOB_PREFIX, InvalidBlob
    from p2pchat.core.handshake.manual import ManualPairing, PasteState, manual_code
    from p2pchat.core.handshake.manual_pinned import ManualReconnect
    from p2pchat.core.handshake.pairing import PHASES, Pairing, PairingState
    from p2pchat.core.handshake.reconnect import Reconnect, ReconnectState
    from p2pchat.core.handshake.reconnect_wire import (
        MEETING_ATTEMPTS,
        MEETING_WINDOW_SECONDS,
        PSK_SIZE,
        IdentityMismatch,
        NotTheContact,
        check_psk,
        meeting_key,
        meeting_window,
        rendezvous_nameplate,
    )
    from p2pchat.core.handshake.steps import APPID, BIND_MESSAGE_SIZE, Outgoing

# Loaded on first use (PEP 562), not with the package: `p2pchat receive` pairs through
# the mailbox and needs neither copy-paste handshake (``manual``, ``manual_pinned``).
_EXPORTS = {
    **dict.fromkeys(("BLOB_PREFIX", "InvalidBlob"), "blobs"),
    **dict.fromkeys(("ManualPairing", "PasteState", "manual_code"), "manual"),
    "ManualReconnect": "manual_pinned",
    **dict.fromkeys(("PHASES", "Pairing", "PairingState"), "pairing"),
    **dict.fromkeys(("Reconnect", "ReconnectState"), "reconnect"),
    **dict.fromkeys(
        (
            "MEETING_ATTEMPTS",
            "MEETING_WINDOW_SECONDS",
            "PSK_SIZE",
            "IdentityMismatch",
            "NotTheContact",
            "check_psk",
            "meeting_key",
            "meeting_window",
            "rendezvous_nameplate",
        ),
        "reconnect_wire",
    ),
    **dict.fromkeys(("APPID", "BIND_MESSAGE_SIZE", "Outgoing"), "steps"),
}


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        # Not an export: a submodule (``from p2pchat.core.handshake import steps``) is then
        # imported by the import system.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "APPID",
    "BIND_MESSAGE_SIZE",
    "BLOB_PREFIX",
    "MEETING_ATTEMPTS",
    "MEETING_WINDOW_SECONDS",
    "PHASES",
    "PSK_SIZE",
    "IdentityMismatch",
    "InvalidBlob",
    "ManualPairing",
    "ManualReconnect",
    "NotTheContact",
    "Outgoing",
    "Pairing",
    "PairingState",
    "PasteState",
    "Reconnect",
    "ReconnectState",
    "check_psk",
    "manual_code",
    "meeting_key",
    "meeting_window",
    "rendezvous_nameplate",
]
