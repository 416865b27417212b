"""Peer-provided strings made safe to show: labels, captions and message text.

A string from the peer is a label: it may be displayed, never interpreted. This
module is the one place that says what such a string may contain:

- ``safe_label`` removes what a terminal would act on (C0/C1 controls, ANSI CSI,
  OSC (titles, hyperlinks, clipboard writes), DCS/APC/PM/SOS strings), the bidi
  controls behind "Trojan Source" spoofing, zero-width and blank-looking
  characters (``invisible``; emoji sequences keep theirs), and combining-mark
  floods; it normalises newlines and truncates. Front ends call it again at
  render time, as a second line of defence.
- Display names (the ``label`` a peer announces, and ours) are checked once, as
  they enter: ``read_peer_label`` refuses one over ``MAX_LABEL_CHARS`` (or
  ``MAX_LABEL_BYTES`` on the wire) with ``LabelRefused``; ``check_own_label``
  refuses ours with ``InvalidLabel`` before pairing starts, so a label that
  passes here always passes at the peer. A name keeps no invisible character
  at all, not even an emoji's joiner: two names that look alike must be alike.
- ``escape_markup`` makes the result inert inside Rich/Textual markup. The core
  cannot import either, so this is written here after ``rich.markup.escape``, but
  stricter: Textual treats *every* unescaped ``[`` as a tag opener (``[$var]``,
  ``[B]`` and ``[ b]`` all vanish there, and ``rich.markup.escape`` leaves them
  alone), so every ``[`` is escaped, not only the ones Rich would read as a tag.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from p2pchat.core.errors import InvalidLabel, LabelRefused, LocalProtocolError
from p2pchat.core.invisible import remove_invisible
from p2pchat.core.keys import MAX_LABEL_CHARS

ELLIPSIS: Final = "\u2026"
# A name's size on the wire, checked before any work on it: 64 characters of any
# script fit (CJK is 3 bytes, most emoji 4), a flood of invisible ones does not.
MAX_LABEL_BYTES: Final = 4 * MAX_LABEL_CHARS
MAX_COMBINING_RUN: Final = 8  # enough for real scripts, stops "zalgo" smearing across lines

# ESC-introduced strings (OSC ] , DCS P, SOS X, PM ^, APC _) and their 8-bit C1
# forms run to a terminator (BEL or ST); an unterminated one swallows the rest,
# which is what a terminal would do too.
_ESCAPE_STRING: Final = re.compile(
    "(?:\x1b[\\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\\\|\x9c|$)"
)
# CSI: parameters, intermediates, one final byte (ECMA-48 5.4).
_CSI: Final = re.compile("(?:\x1b\\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?")
# Any other escape: ESC, intermediates, final byte (charset switches, DECSC, ...).
_OTHER_ESCAPE: Final = re.compile("\x1b[\x20-\x2f]*[\x30-\x7e]?")
_NEWLINES: Final = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_BIDI_AND_INVISIBLE: Final = frozenset(
    "\u061c\u200e\u200f"  # ALM, LRM, RLM
    "\u202a\u202b\u202c\u202d\u202e"  # LRE RLE PDF LRO RLO
    "\u2066\u2067\u2068\u2069"  # LRI RLI FSI PDI
    "\ufeff\ufff9\ufffa\ufffb"  # BOM / ZWNBSP, interlinear annotation controls
)


def _keep(char: str, newline_allowed: bool) -> bool:
    if char == "\n":
        return newline_allowed
    if char in _BIDI_AND_INVISIBLE:
        return False
    # Cc: C0, DEL, C1. Cs: lone surrogates (cannot be encoded for the terminal).
    return unicodedata.category(char) not in ("Cc", "Cs")


def safe_label(text: str, max_chars: int, *, multiline: bool = False) -> str:
    """``text`` with nothing a terminal would execute, at most ``max_chars`` long.

    ``multiline=True`` keeps line breaks (normalised to ``\\n``) for message text;
    otherwise every line break becomes a space and the ends are trimmed. Tabs
    become a space. A truncated result ends with an ellipsis.
    """
    if max_chars < 1:
        raise LocalProtocolError("max_chars must be at least 1")
    result = _clean(text, multiline)
    if len(result) > max_chars:
        result = result[: max_chars - 1] + ELLIPSIS
    return result


def _clean(text: str, multiline: bool) -> str:
    text = _ESCAPE_STRING.sub("", text)
    text = _CSI.sub("", text)
    text = _OTHER_ESCAPE.sub("", text)
    text = _NEWLINES.sub("\n" if multiline else " ", text).replace("\t", " ")
    text = remove_invisible(text, keep_emoji=True)
    kept: list[str] = []
    combining_run = 0
    for char in text:
        if not _keep(char, multiline):
            continue
        if unicodedata.combining(char) or unicodedata.category(char) == "Me":
            combining_run += 1
            if combining_run > MAX_COMBINING_RUN:
                continue
        else:
            combining_run = 0
        kept.append(char)
    result = "".join(kept)
    return result if multiline else result.strip()


def display_name(raw: str) -> str:
    """``raw`` as a name is shown: a safe label without any invisible character, untruncated."""
    return remove_invisible(_clean(raw, multiline=False), keep_emoji=False).strip()


def _label_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be a display name, or None."""
    # len() first: no encoding work on a megabyte string.
    if len(raw) > MAX_LABEL_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_LABEL_BYTES:
        return f"it is longer than {MAX_LABEL_BYTES} bytes"
    if len(display_name(raw)) > MAX_LABEL_CHARS:
        return f"it is longer than {MAX_LABEL_CHARS} characters"
    return None


def read_peer_label(raw: str) -> str:
    """The display name the peer announced, made safe, or ``LabelRefused``."""
    problem = _label_problem(raw)
    if problem is not None:
        raise LabelRefused(
            f"The other side's display name was refused: {problem} (at most "
            f"{MAX_LABEL_CHARS} characters). Nothing else was accepted from them."
        )
    return display_name(raw)


def check_own_label(raw: str) -> str:
    """Our display name as the peer will show it, or ``InvalidLabel`` (a usage error)."""
    problem = _label_problem(raw)
    if problem is None and any(unicodedata.category(char) == "Cc" for char in raw):
        problem = "it contains control characters or terminal escapes"
    if problem is not None:
        raise InvalidLabel(
            f"This display name cannot be used: {problem}. A display name has at most "
            f"{MAX_LABEL_CHARS} printable characters."
        )
    return display_name(raw)


WORD_JOINER: Final = "\u2060"  # invisible, zero width; separates a backslash from a "["
_BACKSLASHES_BEFORE_BRACKET_OR_END: Final = re.compile(r"(\\+)(?=\[|$)")


def escape_markup(text: str) -> str:
    """``text`` made inert in Rich and Textual markup: no tag, link or variable in it acts.

    Every ``[`` becomes ``\\[``. The two renderers disagree about backslashes
    (Rich folds pairs before a ``[``, Textual never does), so instead of doubling
    them a word joiner is put after any backslash run that precedes a ``[`` or
    ends the text: the backslashes then display as typed in both, and a trailing
    one cannot swallow the caller's next tag. Rich's ``:emoji:`` codes are not
    markup and are left alone (render with ``emoji=False`` in Rich). Prefer plain
    ``Text``/``Content`` where a widget allows it.
    """
    separated = _BACKSLASHES_BEFORE_BRACKET_OR_END.sub(r"\1" + WORD_JOINER, text)
    return separated.replace("[", "\\[")
