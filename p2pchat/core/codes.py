"""Invite codes: ``<nameplate>-<word>-<word>-<word>``, their parsing and completion.

A code is the mailbox nameplate (a number the server allocated) and three words
from the PGP word list. Word ``i`` comes from ``EVEN_WORDS`` when ``i`` is even
and from ``ODD_WORDS`` otherwise, so a skipped word or one swapped with its
neighbour is caught here, before it costs an online guess. Words 1 and 3 come
from the same list, so the first never comes after the third in it: swapping
them is caught too. That ordering costs one bit: 8,421,376 codes per nameplate
(23 bits) instead of 16,777,216. ``InvalidCode`` messages quote what was typed:
show them to the person typing, never log them.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from p2pchat.core.errors import InvalidCode
from p2pchat.core.wordlist import EVEN_WORDS, ODD_WORDS

WORD_COUNT: Final = 3
ENTROPY_BYTES: Final = WORD_COUNT  # one byte per word; the ordering of words 1 and 3 costs a bit
MAX_NAMEPLATE_DIGITS: Final = 10
MAX_CODE_CHARS: Final = 200  # far above any real code; longer input is refused unread
EXAMPLE_CODE: Final = f"7-{EVEN_WORDS[0]}-{ODD_WORDS[0]}-{EVEN_WORDS[1]}"

_EVEN_SET: Final = frozenset(EVEN_WORDS)
_EVEN_INDEX: Final = {word: index for index, word in enumerate(EVEN_WORDS)}
_ODD_SET: Final = frozenset(ODD_WORDS)
# Hyphen look-alikes and the Japanese long-vowel mark that IMEs produce for "-";
# NFKC has already folded full-width forms to ASCII when this runs.
_SEPARATORS: Final = re.compile("[\\s\\-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc]+")
_NAMEPLATE: Final = re.compile(rf"[0-9]{{1,{MAX_NAMEPLATE_DIGITS}}}")
_MAX_SUGGEST_INPUT: Final = 24  # longer "words" get no edit-distance search
_ORDINALS: Final = ("first", "second", "third")


def words_for_position(index: int) -> tuple[str, ...]:
    """The word list that word ``index`` (0-based) of a code is drawn from."""
    return EVEN_WORDS if index % 2 == 0 else ODD_WORDS


def _word_set(index: int) -> frozenset[str]:
    return _EVEN_SET if index % 2 == 0 else _ODD_SET


def _check_nameplate(nameplate: str) -> None:
    if not _NAMEPLATE.fullmatch(nameplate):
        if nameplate.isascii() and nameplate.isdigit():
            raise InvalidCode(
                f"The number at the start of the code is too long; a code looks like "
                f"{EXAMPLE_CODE}."
            )
        raise InvalidCode(
            f"A code starts with a number, like the 7 in {EXAMPLE_CODE}; "
            f"{nameplate!r} is not a number."
        )
    if len(nameplate) > 1 and nameplate.startswith("0"):
        raise InvalidCode(
            f"The number at the start of the code has a leading zero; "
            f"did you mean {nameplate.lstrip('0') or '0'!r}?"
        )


def _check_word(index: int, word: str) -> None:
    if word in _word_set(index):
        return
    ordinal = _ORDINALS[index]
    if word in _word_set(index + 1):
        raise InvalidCode(
            f"{word!r} is a real code word, but it cannot be the {ordinal} word: "
            "check the order of the words and that none is missing or repeated."
        ).because("code_word_misplaced", word=word, position=index + 1)
    suggestion = closest_word(word, words_for_position(index))
    hint = f" Did you mean {suggestion!r}?" if suggestion else ""
    error = InvalidCode(f"The {ordinal} word {word!r} is not in the code word list.{hint}")
    if suggestion:
        raise error.because("code_word_close", word=word, position=index + 1, close=suggestion)
    raise error.because("code_word_unknown", word=word, position=index + 1)


def _check_order(words: tuple[str, ...]) -> None:
    """Words 1 and 3 share a list; a code never has the first after the third in it."""
    first, third = words[0], words[2]
    if _EVEN_INDEX[first] > _EVEN_INDEX[third]:
        raise InvalidCode(
            f"The first and third words look swapped ({first!r} never comes before "
            f"{third!r} in a code): check the order of the words, or ask for the code again."
        ).because("code_words_swapped")


@dataclass(frozen=True)
class InviteCode:
    """A well-formed code; ``str()`` gives the canonical ``7-word-word-word``."""

    nameplate: str
    words: tuple[str, str, str]

    def __post_init__(self) -> None:
        _check_nameplate(self.nameplate)
        if len(self.words) != WORD_COUNT:
            raise InvalidCode(f"A code has exactly {WORD_COUNT} words.").because(
                "code_word_count", count=WORD_COUNT
            )
        for index, word in enumerate(self.words):
            _check_word(index, word)
        _check_order(self.words)

    def __str__(self) -> str:
        return "-".join((self.nameplate, *self.words))


def generate(nameplate: str, random: Callable[[int], bytes] = os.urandom) -> InviteCode:
    """A fresh code for ``nameplate`` from 3 bytes of ``random`` (a CSPRNG by default)."""
    entropy = random(ENTROPY_BYTES)
    if len(entropy) != ENTROPY_BYTES:
        raise InvalidCode("The random source returned the wrong number of bytes.")
    low, high = sorted((entropy[0], entropy[2]))  # first before third: a swap is a typo
    first, second, third = EVEN_WORDS[low], ODD_WORDS[entropy[1]], EVEN_WORDS[high]
    return InviteCode(nameplate, (first, second, third))


def _normalise(text: str) -> str:
    # NFKC folds full-width digits and letters (Japanese IMEs) to ASCII.
    return unicodedata.normalize("NFKC", text).lower()


def parse(text: str, *, manual: bool = False) -> InviteCode:
    """Read a typed code strictly; spaces (or other dashes) may stand for ``-``.

    A mailbox code's number is a nameplate, 1 or more; ``0`` marks a copy-paste
    code (``core.handshake.manual``), accepted only with ``manual``.
    """
    if not isinstance(text, str):
        raise InvalidCode("A code must be text.")
    if len(text) > MAX_CODE_CHARS:
        raise InvalidCode(f"That is far too long to be a code; a code looks like {EXAMPLE_CODE}.")
    normalised = _normalise(text).strip()
    if _SEPARATORS.match(normalised):
        raise InvalidCode(
            f"A code starts with a number, like the 7 in {EXAMPLE_CODE}, not with a dash."
        )
    parts = [part for part in _SEPARATORS.split(normalised) if part]
    if not parts:
        raise InvalidCode(f"Type the code you were given; it looks like {EXAMPLE_CODE}.")
    nameplate, words = parts[0], parts[1:]
    if len(parts) == WORD_COUNT and not nameplate.isdigit():
        raise InvalidCode(
            f"The number at the start of the code is missing; a code looks like {EXAMPLE_CODE}."
        )
    _check_nameplate(nameplate)
    if not manual and int(nameplate) == 0:
        raise InvalidCode(
            "A code's number starts at 1; a code starting with 0 is a copy-paste code "
            f"(p2pchat manual join). A code looks like {EXAMPLE_CODE}."
        )
    if len(words) != WORD_COUNT:
        raise InvalidCode(
            f"A code is a number and {WORD_COUNT} words, like {EXAMPLE_CODE}; "
            f"this one has {len(words)} word{'s' if len(words) != 1 else ''}."
        )
    for index, word in enumerate(words):
        _check_word(index, word)
    _check_order(tuple(words))
    return InviteCode(nameplate, (words[0], words[1], words[2]))


def completions(prefix: str) -> list[str]:
    """Full-code candidates (canonical form, sorted) extending what was typed so far.

    Like magic-wormhole's completer: the last, partial word is completed from the
    list its position uses, and a ``-`` is appended while more words are due. The
    nameplate cannot be completed here (only the server knows which exist).
    """
    if not isinstance(prefix, str) or len(prefix) > MAX_CODE_CHARS:
        return []
    normalised = _normalise(prefix).lstrip()
    parts = _SEPARATORS.split(normalised)
    if len(parts) == 1:  # still typing the nameplate
        nameplate = parts[0]
        return [nameplate + "-"] if _NAMEPLATE.fullmatch(nameplate) else []
    nameplate, typed_words = parts[0], parts[1:]
    if not _NAMEPLATE.fullmatch(nameplate) or len(typed_words) > WORD_COUNT:
        return []
    done, partial = typed_words[:-1], typed_words[-1]
    if any(word not in _word_set(i) for i, word in enumerate(done)):
        return []
    position = len(done)
    stem = "-".join((nameplate, *done)) + "-"
    more = "-" if position + 1 < WORD_COUNT else ""
    # The third word never comes before the first in their shared list.
    floor = _EVEN_INDEX[done[0]] if position == WORD_COUNT - 1 else 0
    candidates = words_for_position(position)[floor:] if position != 1 else ODD_WORDS
    return sorted(stem + word + more for word in candidates if word.startswith(partial))


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): typos and swaps cost 1."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


def closest_word(word: str, candidates: tuple[str, ...]) -> str | None:
    """The candidate nearest to ``word``, or None when nothing is plausibly meant."""
    if not word or len(word) > _MAX_SUGGEST_INPUT:
        return None
    prefixed = [c for c in candidates if c.startswith(word)]
    if len(prefixed) == 1 and len(word) >= 3:  # an unfinished word
        return prefixed[0]
    best_distance, best = min((edit_distance(word, c), c) for c in candidates)
    # Beyond about a third of the word, a "suggestion" is a guess, not a correction.
    return best if best_distance <= max(1, len(best) // 3) else None
