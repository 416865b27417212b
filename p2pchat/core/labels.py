"""Peer-provided strings made safe to show: labels, captions and message text.

A string from the peer is a label: it may be displayed, never interpreted. Two
steps, kept apart because they serve different sinks:

- ``safe_label`` removes what a terminal would act on (C0/C1 controls, ANSI CSI,
  OSC (titles, hyperlinks, clipboard writes), DCS/APC/PM/SOS strings), the bidi
  controls behind "Trojan Source" spoofing, and combining-mark floods; it
  normalises newlines and truncates.
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

from p2pchat.core.errors import LocalProtocolError

ELLIPSIS: Final = "\u2026"
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
    text = _ESCAPE_STRING.sub("", text)
    text = _CSI.sub("", text)
    text = _OTHER_ESCAPE.sub("", text)
    text = _NEWLINES.sub("\n" if multiline else " ", text).replace("\t", " ")
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
    if not multiline:
        result = result.strip()
    if len(result) > max_chars:
        result = result[: max_chars - 1] + ELLIPSIS
    return result


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
