"""Line breaking for Japanese (and other wide-character) text in every Textual widget.

Textual wraps ``Content`` with Rich's ``divide_line`` and the text area with its own
``_wrap.chunks``: both break only at spaces. Japanese has no spaces between words,
so a sentence such as ``相手に読み上げるか、C キーでコピーしてください。`` broke only
at its one ASCII space (``相手に読み上げるか、C`` / ``キーでコピーしてください。``)
and ``削除したもの:`` was left alone on its line. Here a line may also break between
any two wide characters, except before closing punctuation (``、。」ー`` …) and after
an opening bracket (``「（`` …), the basic rules of Japanese typesetting (kinsoku).

``install()`` puts the two functions in place of Textual's once, for the whole
process (the TUI package does it on import); Latin text wraps exactly as before.
A test checks that the Textual version still calls what is replaced here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from rich.cells import cell_len, chop_cells

#: A line may not start with these (closing marks, small kana, the long vowel mark).
NO_LINE_START = frozenset(
    "、。，．,.）)]」』】〉》〕］｝!！?？:：;；ー～…‥・ゝゞヽヾ"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ%％"
)
#: A line may not end with these (opening brackets).
NO_LINE_END = frozenset("（([「『【〈《〔［｛")


@lru_cache(maxsize=4096)
def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def units(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, unit): the pieces a line may break between, each with its trailing spaces.

    A Latin word is one unit, as before; each wide character is one, joined to the
    closing mark after it and to the opening bracket before it.
    """
    spans: list[list[int]] = []
    index, length = 0, len(text)
    while index < length and text[index].isspace():
        index += 1  # leading spaces belong to the first unit, as in Rich
    if index == length:
        if length:
            yield 0, length, text
        return
    while index < length:
        start = 0 if not spans else index
        if _wide(text[index]):
            index += 1
        else:
            while index < length and not text[index].isspace() and not _wide(text[index]):
                index += 1
        while index < length and text[index].isspace():
            index += 1
        previous = spans[-1] if spans else None
        # Only touching pieces are glued: a space is always a break opportunity.
        glued = (
            previous is not None
            and not text[previous[1] - 1].isspace()
            and (text[start] in NO_LINE_START or text[previous[1] - 1] in NO_LINE_END)
        )
        if glued and previous is not None:
            previous[1] = index
        else:
            spans.append([start, index])
    for start, end in spans:
        yield start, end, text[start:end]


def area_chunks(text: str) -> Iterator[tuple[int, int, str]]:
    """``units`` in the shape of Textual's ``_wrap.chunks`` (leading spaces are their own)."""
    lead = len(text) - len(text.lstrip())
    if lead:
        yield 0, lead, text[:lead]
    for start, end, unit in units(text[lead:]):
        yield start + lead, end + lead, unit


def divide_line(text: str, width: int, fold: bool = True) -> list[int]:
    """Rich's ``divide_line`` (same arguments, same result for Latin text) over ``units``."""
    breaks: list[int] = []
    offset = 0
    for start, _end, word in units(text):
        word_length = cell_len(word.rstrip())
        if width - offset >= word_length:
            offset += cell_len(word)
        elif word_length > width:
            if fold:
                for position, line in enumerate(folded := chop_cells(word, width=width)):
                    if start:
                        breaks.append(start)
                    if position == len(folded) - 1:
                        offset = cell_len(line)
                    else:
                        start += len(line)
            else:
                if start:
                    breaks.append(start)
                offset = cell_len(word)
        elif offset and start:
            breaks.append(start)
            offset = cell_len(word)
    return breaks


_installed = False


def install() -> None:
    """Use these rules in every Textual widget of this process (idempotent)."""
    global _installed
    if _installed:
        return
    import textual._wrap
    import textual.content

    textual.content.divide_line = divide_line  # type: ignore[attr-defined]
    textual._wrap.chunks = area_chunks
    _installed = True
