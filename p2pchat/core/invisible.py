"""Invisible characters in peer strings: which they are, and the few that emoji need.

Zero-width and blank-looking characters let one name pass for another
("Al\\u200bice" beside "Alice", a name of Hangul fillers that looks empty) and
hide text inside a message. ``labels`` removes them from names altogether. In
message text two of them are kept, and only where they build an emoji: a zero
width joiner between two pictographs (the ZWJ sequences of families and
professions, 👩‍💻) and the tag characters of a subdivision flag (the black flag,
tag letters, a cancel tag: England, Scotland, Wales).

Python's ``unicodedata`` has no emoji properties, so "pictograph" is the
blocks emoji live in; a joiner between two such symbols renders either as one
emoji or as the two symbols, never as hidden text.
"""

from __future__ import annotations

from typing import Final

ZWJ: Final = "\u200d"
BLACK_FLAG: Final = "\U0001f3f4"
CANCEL_TAG: Final = "\U000e007f"
_VARIATION_SELECTORS: Final = frozenset("\ufe0e\ufe0f")  # text / emoji presentation
MAX_FLAG_TAGS: Final = 16  # the longest subdivision code is 6; a flood is not a flag

INVISIBLE: Final = frozenset(
    [chr(code) for code in range(0x200B, 0x200E)]  # zero width space, non-joiner, joiner
    + [chr(code) for code in range(0x2060, 0x2065)]  # word joiner, invisible operators
    + [
        "\u00ad",  # soft hyphen
        "\u180e",  # Mongolian vowel separator
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler: the same blank as the next two
        "\u3164",  # Hangul filler
        "\uffa0",  # halfwidth Hangul filler
    ]
    + [chr(code) for code in range(0xE0000, 0xE0080)]  # the tag block
)
# Tag characters a subdivision flag is spelled with: digits and lower-case letters.
_FLAG_TAGS: Final = frozenset(
    [chr(code) for code in range(0xE0030, 0xE003A)]
    + [chr(code) for code in range(0xE0061, 0xE007B)]
)
_OTHER_PICTOGRAPHS: Final = frozenset(
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u3030\u303d\u3297\u3299"
)


def is_pictograph(char: str) -> bool:
    """Whether ``char`` lies where emoji are: the symbol and pictograph blocks."""
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x2190 <= code <= 0x2BFF or char in _OTHER_PICTOGRAPHS


def _flag_end(text: str, start: int) -> int:
    """The end of a subdivision flag's tags beginning at ``start``, or ``start`` if none."""
    end = start
    while end < len(text) and end - start < MAX_FLAG_TAGS and text[end] in _FLAG_TAGS:
        end += 1
    if end > start and end < len(text) and text[end] == CANCEL_TAG:
        return end + 1
    return start


def _joins_pictographs(kept: list[str], text: str, index: int) -> bool:
    """Whether the joiner at ``text[index]`` stands between two pictographs."""
    position = len(kept) - 1
    while position >= 0 and kept[position] in _VARIATION_SELECTORS:
        position -= 1
    before = kept[position] if position >= 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    return bool(before and after) and is_pictograph(before) and is_pictograph(after)


def remove_invisible(text: str, *, keep_emoji: bool) -> str:
    """``text`` without the characters of ``INVISIBLE``.

    With ``keep_emoji`` a joiner between two pictographs and the tags of a
    well-formed subdivision flag stay, so emoji sequences keep working.
    """
    if not keep_emoji:
        return "".join(char for char in text if char not in INVISIBLE)
    kept: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == BLACK_FLAG:
            end = _flag_end(text, index + 1)
            kept.extend(text[index:end] if end > index + 1 else char)
            index = max(end, index + 1)
            continue
        if char not in INVISIBLE or (char == ZWJ and _joins_pictographs(kept, text, index)):
            kept.append(char)
        index += 1
    return "".join(kept)
