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
A test checks that the Textual version still calls what is replaced here. The break
rules themselves live in ``i18n/linebreak.py``, shared with the CLI's help.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.cells import cell_len, chop_cells

from p2pchat.i18n.linebreak import NO_LINE_END, NO_LINE_START, units


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
                # A wide character in a 1-cell width comes back after an empty piece.
                folded = [line for line in chop_cells(word, width=width) if line]
                for position, line in enumerate(folded):
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


__all__ = ["NO_LINE_END", "NO_LINE_START", "area_chunks", "divide_line", "install", "units"]
