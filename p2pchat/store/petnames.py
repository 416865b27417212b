"""Petnames the store chooses: one made from a peer's announced label, a free variant.

A peer's label is never trusted as a name: ``petname_from_label`` keeps only
printable characters without separators and falls back to ``peer``; a name
that is taken becomes ``name-2``, ``name-3``... (``free_name``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

from p2pchat.core.labels import display_name
from p2pchat.store.contact_record import MAX_PETNAME_CHARS, ContactError, validate_petname

DEFAULT_PETNAME: Final = "peer"


def petname_from_label(label: str) -> str:
    """A petname made from a peer's announced label: printable, no separators."""
    cleaned = "".join(
        char
        for char in unicodedata.normalize("NFC", display_name(label or ""))
        if not unicodedata.category(char).startswith("C") and char not in "/\\"
    )
    cleaned = re.sub(r"\s+", " ", cleaned).strip()[:MAX_PETNAME_CHARS].strip()
    if cleaned in ("", ".", ".."):
        return DEFAULT_PETNAME
    return cleaned


def free_name(taken: Callable[[str], bool], wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... whichever ``taken`` says is free."""
    base = validate_petname(wanted)
    if not taken(base):
        return base
    for number in range(2, 10_000):
        suffix = f"-{number}"
        candidate = base[: MAX_PETNAME_CHARS - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
    raise ContactError("No free petname is left; name the contact yourself with --as NAME.")
