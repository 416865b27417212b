"""Where a line of text may break, for Japanese as for Latin text; no Textual, no Rich.

A line may break at spaces, as always, and between any two wide characters, but not
before closing punctuation (``、。」ー`` …) nor after an opening bracket (``「（`` …):
the basic rules of Japanese typesetting (kinsoku). ``units`` yields the pieces a
line may break between; ``wrap_cells`` fills lines of a given width in terminal
cells. The TUI plugs ``units`` into Textual (``tui/cjk_wrap.py``); the CLI's help
wraps with ``wrap_cells`` (``cli/options.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from functools import lru_cache

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


def cells(text: str) -> int:
    """The width of ``text`` in terminal cells (wide characters take two)."""
    return sum(2 if _wide(char) else 1 for char in text)


def wrap_cells(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` cells (a longer piece is cut by cells)."""
    lines: list[str] = []
    line = ""
    for _start, _end, unit in units(" ".join(text.split())):
        if line and cells(line + unit.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        while cells(unit.rstrip()) > width:
            cut = 0
            while cells(unit[: cut + 1]) <= width:
                cut += 1
            lines.append(unit[:cut])
            unit = unit[cut:]
        line += unit
    if line.strip():
        lines.append(line.rstrip())
    return lines
