"""Fuzzing the line breaking every widget and the CLI's help use (issue 16 §2).

``linebreak``: arbitrary text (Japanese, Latin, punctuation that may not start or
end a line, emoji, combining marks, spaces of every kind) through the break rules:
Textual's ``divide_line`` gives increasing offsets inside the text, never one that
puts a closing mark first on a line or leaves an opening bracket last, and lines
that fit the width unless a single piece is wider; ``wrap_cells`` keeps every
non-space character, in order, within the width; Latin-only text breaks exactly
as Rich does.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich._wrap import divide_line as rich_divide_line
from rich.cells import cell_len

from p2pchat.i18n.linebreak import NO_LINE_END, NO_LINE_START, cells, units, wrap_cells
from p2pchat.tui.cjk_wrap import divide_line
from tests.fuzz.conftest import EXAMPLES

RUNS = settings(
    max_examples=1500, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
PIECES = [
    "写真", "を", "送る", "、", "。", "「", "」", "（", "）", "ー", "っ", "ャ", "…", "!", "?",
    "GPS", "Canon EOS", " ", "  ", "\u3000", "\t", "\n", "a", "word", "(", ")", ",", ".",
    "👩\u200d💻", "e\u0301", "\u200b", "ｶﾀｶﾅ", "ＡＢＣ", "123", "-",
]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=60).map("".join)
latin = st.text(alphabet="abc defghij  klmnopqrstuvwxyz,.-()", max_size=90)


@RUNS
@given(text=texts, width=st.integers(min_value=1, max_value=60), fold=st.booleans())
def test_breaks_are_offsets_that_keep_the_rules(text: str, width: int, fold: bool) -> None:
    EXAMPLES["linebreak"] += 1
    breaks = divide_line(text, width, fold)
    assert breaks == sorted(set(breaks)) and all(0 < b < len(text) for b in breaks)
    pieces = [text[a:b] for a, b in zip([0, *breaks], [*breaks, len(text)], strict=True)]
    assert "".join(pieces) == text
    starts = {start for start, _, _ in units(text)}
    for cut, piece in zip(breaks, pieces[1:], strict=True):
        if cut in starts:  # a break between units: the rules hold there
            assert piece[0] not in NO_LINE_START or text[cut - 1].isspace(), (text, cut)
            assert text[cut - 1] not in NO_LINE_END, (text, cut)
    widest_unit = max((cell_len(u.rstrip()) for _, _, u in units(text)), default=0)
    if fold or widest_unit <= width:
        assert all(cell_len(p.rstrip()) <= max(width, 2) for p in pieces), (text, width, pieces)


@RUNS
@given(text=latin, width=st.integers(min_value=1, max_value=40), fold=st.booleans())
def test_latin_text_breaks_as_rich_does(text: str, width: int, fold: bool) -> None:
    EXAMPLES["linebreak"] += 1
    assert divide_line(text, width, fold) == rich_divide_line(text, width, fold)


@RUNS
@given(text=texts, width=st.integers(min_value=2, max_value=60))
def test_wrap_cells_keeps_every_character_within_the_width(text: str, width: int) -> None:
    EXAMPLES["linebreak"] += 1
    lines = wrap_cells(text, width)
    assert all(cells(line) <= width for line in lines), (text, width, lines)
    assert "".join("".join(lines).split()) == "".join(text.split())
