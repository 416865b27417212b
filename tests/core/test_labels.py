"""Peer strings as labels: terminal escapes, bidi, control characters, markup."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.markup import render
from textual.markup import to_content

from p2pchat.core.errors import InvalidLabel, LabelRefused, LocalProtocolError
from p2pchat.core.handshake.version import decode_capabilities
from p2pchat.core.keys import MAX_LABEL_CHARS
from p2pchat.core.labels import (
    MAX_COMBINING_RUN,
    MAX_LABEL_BYTES,
    WORD_JOINER,
    check_own_label,
    escape_markup,
    read_peer_label,
    safe_label,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice", "Alice"),
        ("\x1b[31mred\x1b[0m", "red"),  # SGR colour
        ("a\x1b[2J\x1b[Hb", "ab"),  # clear screen, cursor home
        ("\x1b]0;new title\x07Bob", "Bob"),  # OSC window title, BEL-terminated
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # OSC 8 link
        ("\x1b]52;c;aGk=\x07x", "x"),  # OSC 52 clipboard write
        ("\x1bP+q544e\x1b\\y", "y"),  # DCS
        ("\x1b_Gf=100;AAAA\x1b\\z", "z"),  # APC (kitty graphics)
        ("\x9b31mc1\x9d0;t\x9c", "c1"),  # 8-bit CSI and OSC
        ("\x1b(0q\x1b(B", "q"),  # charset switch
        ("\x1b]0;never terminated Bob", ""),  # swallowed like a terminal would
        ("be\x00ll\x07\x08\x7f", "bell"),
        ("abc\u202edcba\u202c", "abcdcba"),  # RLO "Trojan Source" override
        ("\u2066x\u2069\u200f\u061c\ufeff", "x"),
        ("two\r\nlines\rthree\u2028four\x85five", "two lines three four five"),
        ("tab\there", "tab here"),
        ("  padded  ", "padded"),
        ("👩‍💻 dev", "👩‍💻 dev"),  # ZWJ emoji sequence survives
        ("日本語のラベル", "日本語のラベル"),
        ("\ud800lone surrogate", "lone surrogate"),
    ],
)
def test_safe_label_strips_what_a_terminal_would_act_on(raw, expected):
    assert safe_label(raw, 100) == expected


def test_multiline_keeps_normalised_newlines():
    text = "line one\r\nline two\rline three\u2029four\x1b[1A\n"
    assert safe_label(text, 100, multiline=True) == "line one\nline two\nline three\nfour\n"


def test_truncation_marks_the_cut():
    assert safe_label("abcdef", 4) == "abc…"
    assert safe_label("abcd", 4) == "abcd"
    assert safe_label("abcdef", 1) == "…"
    with pytest.raises(LocalProtocolError):
        safe_label("x", 0)


def test_combining_mark_floods_are_capped():
    zalgo = "Z" + "\u0301" * 100 + "a"
    result = safe_label(zalgo, 500)
    assert result == "Z" + "\u0301" * MAX_COMBINING_RUN + "a"
    assert safe_label("e\u0301", 10) == "e\u0301"  # ordinary accents untouched


@settings(max_examples=300)
@given(st.text(max_size=200), st.integers(min_value=1, max_value=50), st.booleans())
def test_safe_label_output_is_always_inert(text, max_chars, multiline):
    result = safe_label(text, max_chars, multiline=multiline)
    assert len(result) <= max_chars
    for char in result:
        assert unicodedata.category(char) not in ("Cc", "Cs") or (multiline and char == "\n")
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert safe_label(result, max_chars, multiline=multiline) == result  # idempotent


# --- markup ------------------------------------------------------------------------------

MARKUP_ATTACKS = [
    "[b]bold[/b]",
    "[@click=app.quit]quit[/]",
    "[link=https://evil.example]x[/link]",
    "[$accent]themed",
    "[B]upper",
    "[ b]spaced",
    "[on red]bg",
    "[#ff0000]hex",
    "[[b]]",
    "[/]",
    "[",
    "]",
    "\\[b]x",
    "ends with\\",
    "ends with three\\\\\\",
    "plain text",
]


def rich_render(markup: str):
    # ":name:" emoji codes are a Rich rendering option, not markup: the TUI renders
    # with Textual, which has none, so they are switched off rather than escaped.
    return render(markup, emoji=False)


def _shown(text: str) -> str:
    """What a reader sees: the zero-width word joiner is invisible."""
    return text.replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", MARKUP_ATTACKS)
def test_escaped_text_renders_literally_in_rich(text):
    rendered = rich_render(escape_markup(text))
    assert _shown(rendered.plain) == text
    assert not rendered.spans


@pytest.mark.parametrize("text", MARKUP_ATTACKS)
def test_escaped_text_renders_literally_in_textual(text):
    content = to_content(escape_markup(text))
    assert _shown(content.plain) == text
    assert not content.spans


@pytest.mark.parametrize("text", ["back\\", "back\\\\\\", "a\\[b]x"])
def test_peer_text_cannot_break_the_callers_own_tags(text):
    markup = f"[b]{escape_markup(text)}[/b] tail"
    for rendered in (rich_render(markup), to_content(markup)):
        assert _shown(rendered.plain) == text + " tail"
        [span] = rendered.spans
        assert (span.start, span.end) == (0, len(rendered.plain) - len(" tail"))


def test_the_word_joiner_is_zero_width():
    assert cell_len(WORD_JOINER) == 0


@settings(max_examples=300)
@given(raw=st.text(alphabet=st.sampled_from("[]\\/ab@$#=: "), max_size=30) | st.text(max_size=30))
def test_escape_markup_is_literal_in_rich_and_textual(raw):
    text = safe_label(raw, 1000, multiline=True).replace(WORD_JOINER, "")  # the real pipeline
    escaped = escape_markup(text)
    for rendered in (rich_render(escaped), to_content(escaped)):
        assert _shown(rendered.plain) == text
        assert not rendered.spans


# --- invisible characters and display names ------------------------------------------------

INVISIBLES = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u00ad\u180e\u3164\u115f"


@pytest.mark.parametrize("char", [*INVISIBLES, "\U000e0041", "\U000e007f"])
def test_names_keep_no_invisible_character(char):
    assert read_peer_label(f"Al{char}ice{char}") == "Alice"
    assert read_peer_label(f"{char} Bob {char}") == "Bob"  # trimmed after removal


def test_names_lose_even_an_emoji_joiner_but_texts_keep_it():
    assert read_peer_label("👩\u200d💻 dev") == "👩💻 dev"
    england = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    assert safe_label(f"go {england} 👩\u200d👩\u200d👧!", 100, multiline=True) == (
        f"go {england} 👩\u200d👩\u200d👧!"
    )
    assert safe_label("hid\u200bden\u3164 text\u2060", 100, multiline=True) == "hidden text"


def test_a_peer_name_over_the_limit_is_refused_not_truncated():
    assert read_peer_label("n" * MAX_LABEL_CHARS) == "n" * MAX_LABEL_CHARS
    for raw in ("n" * (MAX_LABEL_CHARS + 1), "日" * (MAX_LABEL_BYTES // 3 + 1), "x" * 10_000):
        with pytest.raises(LabelRefused, match="display name was refused"):
            read_peer_label(raw)
    # Invisible padding counts against the wire limit, not the shown length.
    with pytest.raises(LabelRefused):
        read_peer_label("Bob" + "\u200b" * MAX_LABEL_BYTES)


def test_capabilities_refuse_a_long_label():
    caps = {"view_once": True, "max_image_bytes": 1, "max_text_chars": 1}
    assert decode_capabilities({**caps, "label": "\x1b[2JBob\u200b"}).label == "Bob"
    with pytest.raises(LabelRefused):
        decode_capabilities({**caps, "label": "[b]" * 30})


@pytest.mark.parametrize("raw", ["n" * (MAX_LABEL_CHARS + 1), "Bob\x07", "\x1b[31mBob", "a\tb"])
def test_our_own_name_is_checked_before_pairing(raw):
    with pytest.raises(InvalidLabel, match="cannot be used"):
        check_own_label(raw)
