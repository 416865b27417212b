"""Codes whose pairing failed in this process: refused when typed again.

Each wrong guess of a hostile mailbox costs it one attempt against one side; a
person who retypes a code that just failed would hand it another. Only salted
hashes are kept (never the codes), in memory, for the life of the process.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

from p2pchat.core.codes import InviteCode
from p2pchat.core.errors import InvalidCode

_SALT: Final = os.urandom(16)
_FAILED: set[bytes] = set()


def digest(code: InviteCode) -> bytes:
    """What is remembered of ``code``: a salted hash."""
    return hashlib.sha256(_SALT + str(code).encode("ascii")).digest()


def refuse_if_failed(code: InviteCode) -> bytes:
    """The code's digest; ``InvalidCode`` when it already failed in this process."""
    key = digest(code)
    if key in _FAILED:
        raise InvalidCode(
            "This code already failed once here. Typing it again would give whoever "
            "interfered another guess: ask for a new invite."
        ).because("code_failed_before")
    return key


def remember_failure(key: bytes) -> None:
    _FAILED.add(key)
