"""The documented exit codes of every p2pchat command, defined once.

Each error carries its own code (``P2PChatError.exit_code``, see
``core/errors.py``); this module only names the numbers and says what each
means (the CLI's ``--help`` prints ``EXIT_CODES``). It imports nothing, so
every layer can use it.
"""

from __future__ import annotations

from typing import Final

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
