"""How errors read on the TUI's screens: one translated sentence, and which need a warning."""

from __future__ import annotations

from p2pchat.core.errors import (
    InvalidLabel,
    LabelRefused,
    PeerRefusedLabel,
    TransportError,
    WrongCode,
)
from p2pchat.core.keys import MAX_LABEL_CHARS
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text
from p2pchat.service import NoPathFound
from p2pchat.service.contacts import ContactBlocked, KeyAlreadyPinned, KeyChanged
from p2pchat.service.rendezvous import PeerStopped


def describe_error(error: BaseException) -> str:
    """A sentence for the screens, in the reader's language; the English message for scripts."""
    if isinstance(error, WrongCode):
        return t("errors.wrong_code")
    if isinstance(error, NoPathFound):
        stun = t(f"errors.stun_{error.stun}")
        if error.relay is None:
            return t("errors.no_path_no_relay", stun=stun, seconds=f"{error.seconds:g}")
        return t(
            "errors.no_path",
            stun=stun,
            seconds=f"{error.seconds:g}",
            relay=error.relay,
            reason=error.relay_error.rstrip("."),
        )
    if isinstance(error, PeerStopped):
        # The other side's one-word reason, in the reader's language.
        return t(f"errors.peer_stopped.{error.said}")
    if isinstance(error, TransportError):
        return t("errors.transport", detail=error_text(error))
    if isinstance(error, LabelRefused):
        return t("errors.peer_label_refused", limit=MAX_LABEL_CHARS)
    if isinstance(error, PeerRefusedLabel):
        return t("errors.own_label_refused", limit=MAX_LABEL_CHARS)
    if isinstance(error, InvalidLabel):
        return t("errors.own_label_invalid", limit=MAX_LABEL_CHARS)
    if isinstance(error, ContactBlocked):
        # Only that it was refused: nothing about the peer, not even what it announced.
        return t("contacts.refused")
    # Every other error by its reason (core/errors.py), in the reader's language.
    return error_text(error)


def is_key_change(error: BaseException | None) -> bool:
    """A changed key deserves the warning screen; the same key under two names does not."""
    return isinstance(error, KeyChanged) and not isinstance(error, KeyAlreadyPinned)
