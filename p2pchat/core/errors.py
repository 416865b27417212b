"""The one error hierarchy of p2pchat.

Every error a peer, a file or a user can cause is a ``P2PChatError``; its message
is a sentence a person can act on. Anything else escaping is a bug.

The message is English and stable (scripts and JSON read it). What a person reads
comes from the i18n catalogues instead: each class names a stable ``reason`` (the
key ``errors.reason.<reason>``) and an error may narrow it with ``because()``,
giving the values the sentence needs. The core cannot import the catalogues, so
the front ends word it (``p2pchat.i18n.error_words``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar, Self

from p2pchat.core.exit_status import (
    EXIT_FAILURE,
    EXIT_INPUT_REJECTED,
    EXIT_PAIRING_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
)


class P2PChatError(Exception):
    """Base class of every error p2pchat raises on purpose.

    ``exit_code`` is the documented exit code (``core/exit_status.py``) the error
    travels with: each class says its own, so no table maps errors to codes.
    """

    exit_code: ClassVar[int] = EXIT_FAILURE
    #: What went wrong, as a stable key under ``errors.reason`` in the catalogues.
    reason: str = "failure"
    #: The values that key's sentence needs (a path, a number), by name.
    params: Mapping[str, object] = MappingProxyType({})

    def because(self, reason: str, /, **params: object) -> Self:
        """This error's finer reason and its values; the English message stays."""
        self.reason = reason
        self.params = MappingProxyType(params)
        return self


def exit_code_of(error: BaseException) -> int:
    """The exit code ``error`` ends a command with: its own, else 5 for a file, else 1."""
    if isinstance(error, P2PChatError):
        return error.exit_code
    if isinstance(error, OSError):
        return EXIT_INPUT_REJECTED  # a file that could not be read
    return EXIT_FAILURE


class LocalProtocolError(P2PChatError):
    """We were asked to do something the protocol does not allow (a bug or misuse)."""

    reason = "local_protocol"


class RemoteProtocolError(P2PChatError):
    """The peer (or something in between) sent data that breaks the protocol."""

    reason = "remote_protocol"

    exit_code = EXIT_PAIRING_FAILED


class DecryptError(RemoteProtocolError):
    """A frame did not authenticate: modified, truncated, reordered or replayed."""

    reason = "decrypt"


class WrongCode(P2PChatError):
    """The two sides did not use the same code, or someone tried to guess it."""

    reason = "wrong_code"

    exit_code = EXIT_PAIRING_FAILED

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "Pairing failed: the code was wrong (or someone tried to guess it). "
            "Make a new invite and read the new code aloud again."
        )


class InvalidCode(P2PChatError):
    """The text typed as a code is not a well-formed invite code."""

    reason = "invalid_code"

    exit_code = EXIT_USAGE


class UsageError(P2PChatError):
    """The user asked for something malformed (an option's value): exit 2, not a bug."""

    reason = "usage"

    exit_code = EXIT_USAGE


class InvalidLabel(P2PChatError):
    """Our own display name is too long or not printable: a usage error, before pairing."""

    reason = "own_label_invalid"

    exit_code = EXIT_USAGE


class LabelRefused(RemoteProtocolError):
    """The peer announced a display name that is too long: pairing stops, the peer is told."""

    reason = "peer_label_refused"


class PeerRefusedLabel(RemoteProtocolError):
    """The peer stopped pairing because it refused our display name (its ``error`` phase)."""

    reason = "own_label_refused"


class ImageRejected(P2PChatError):
    """An image was refused: too big, not an allowed format, corrupt or hostile."""

    reason = "image_rejected"

    exit_code = EXIT_INPUT_REJECTED


class TransportError(P2PChatError):
    """The network path failed: mailbox unreachable, peer vanished, channel closed."""

    reason = "transport"

    exit_code = EXIT_PEER_LOST


class PeerLost(TransportError):
    """The peer stopped answering (no pong within the heartbeat window) or left."""

    reason = "peer_lost"
