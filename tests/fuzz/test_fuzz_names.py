"""Fuzzing peer names and texts: what the core lets in, and what the widgets make of it.

Three campaigns. ``names``: arbitrary strings (biased towards markup, escapes,
backslashes and invisible characters) through ``read_peer_label``: refused with
``LabelRefused`` or a short, inert, idempotent name. ``invisible``: the filter
keeps every emoji sequence (ZWJ families and professions, subdivision flags)
intact wherever it stands and removes every listed invisible character
elsewhere. ``widgets``: arbitrary names announced by a peer through a real chat
screen (paired notice, typing line, message header, timer and "left" notices):
nothing is parsed as markup, the app stays up and shows the name as it is.
"""

from __future__ import annotations

import asyncio
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from textual.content import Content

from p2pchat.core.errors import LabelRefused
from p2pchat.core.invisible import INVISIBLE, ZWJ, is_pictograph, remove_invisible
from p2pchat.core.keys import MAX_LABEL_CHARS
from p2pchat.core.labels import read_peer_label, safe_label
from p2pchat.service import events as ev
from p2pchat.store.petnames import petname_from_label
from p2pchat.tui.widgets.message_list import MessageItem
from tests.fuzz.conftest import EXAMPLES, assert_only_p2pchat_errors
from tests.hostile_names import HOSTILE_NAMES, MARKER, recording_markup

FAST = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
LONG = settings(
    max_examples=5000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
APPS = settings(
    max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
HOSTILE_PIECES = [
    "[", "]", "[/]", "[b]", "[@click=app.quit('x)]", "[@click=app.quit]", "[link=http://e]",
    "[$accent]", "\\", "\\\\", "\x1b", "\x1b[2J", "\x1b]0;t\x07", "\x9b", "\x07", "\r", "\n",
    "\t", "\u202e", "\u2066", "\u200b", "\u200d", "\u2060", "\u00ad", "\u180e", "\u3164",
    "\u115f", "\U000e0041", "\U000e007f", "\U0001f3f4", "\ufe0f", "👩", "💻", "\u0301",
    "\ud800", ":smile:", "{", "}", "{peer}", "%s", "Bob", " ",
]  # fmt: skip
hostile_text = st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=4), max_size=40).map(
    "".join
) | st.text(max_size=120)

EMOJI_SEQUENCES = [
    "👨\u200d👩\u200d👧\u200d👦",  # family
    "👩\u200d💻",  # technologist
    "👨🏽\u200d🚀",  # astronaut, skin tone
    "🧑\u200d⚕\ufe0f",  # health worker (a dingbat after the joiner)
    "🏳\ufe0f\u200d🌈",  # rainbow flag
    "🏴\u200d☠\ufe0f",  # pirate flag
    "❤\ufe0f\u200d🔥",  # heart on fire
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # England
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",  # Wales
]
plain_text = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn"),
        blacklist_characters="".join(INVISIBLE) + "\U0001f3f4",
    ),
    max_size=8,
)


def invisible_left(text: str) -> list[str]:
    """Listed invisible characters that are not part of an emoji sequence."""
    left = []
    for index, char in enumerate(text):
        if char not in INVISIBLE:
            continue
        if char == ZWJ and 0 < index < len(text) - 1:
            before = text[index - 1] if text[index - 1] != "\ufe0f" else text[index - 2]
            if is_pictograph(before) and is_pictograph(text[index + 1]):
                continue
        if 0xE0020 <= ord(char) <= 0xE007F and "\U0001f3f4" in text[:index]:
            continue  # inside a flag: checked by the flag examples
        left.append(char)
    return left


# ----- names ---------------------------------------------------------------------------


def check_name(raw: str) -> None:
    result = assert_only_p2pchat_errors("names", lambda: read_peer_label(raw), raw)
    if isinstance(result, Exception):
        assert isinstance(result, LabelRefused)
        return
    assert len(result) <= MAX_LABEL_CHARS
    assert not set(result) & INVISIBLE
    for char in result:
        assert unicodedata.category(char) not in ("Cc", "Cs")
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert read_peer_label(result) == result  # idempotent
    assert Content(result).plain == result  # shown as it is: no markup, no escapes
    petname = petname_from_label(result)
    assert not set(petname) & INVISIBLE


@FAST
@given(hostile_text)
def test_fuzz_peer_names_are_refused_or_inert(raw):
    check_name(raw)


@pytest.mark.slow
@LONG
@given(hostile_text)
def test_fuzz_peer_names_long(raw):
    check_name(raw)


def test_the_audit_names_are_inert():
    for raw in HOSTILE_NAMES:
        check_name(raw)


# ----- the invisible filter --------------------------------------------------------------


@FAST
@given(st.lists(plain_text | st.sampled_from(EMOJI_SEQUENCES), max_size=12))
def test_fuzz_emoji_sequences_survive_where_they_stand(parts):
    EXAMPLES["invisible"] += 1
    text = "".join(parts)
    assert remove_invisible(text, keep_emoji=True) == text
    shown = safe_label(text, 10_000, multiline=True)  # what a message text becomes
    for part in parts:
        if part in EMOJI_SEQUENCES:
            assert part in shown


@FAST
@given(
    st.lists(
        plain_text | st.sampled_from(EMOJI_SEQUENCES) | st.sampled_from(sorted(INVISIBLE)),
        max_size=16,
    )
)
def test_fuzz_listed_invisibles_vanish_outside_emoji(parts):
    EXAMPLES["invisible"] += 1
    text = "".join(parts)
    kept = remove_invisible(text, keep_emoji=True)
    assert invisible_left(kept) == []
    assert remove_invisible(kept, keep_emoji=True) == kept  # idempotent
    assert not set(remove_invisible(text, keep_emoji=False)) & INVISIBLE  # names: none at all
    # Every emoji sequence in the input that no invisible character touched is still there.
    for index, part in enumerate(parts):
        neighbours = parts[index - 1 : index] + parts[index + 1 : index + 2]
        if part in EMOJI_SEQUENCES and not any(n in INVISIBLE for n in neighbours):
            assert part in kept


def test_lone_and_misplaced_emoji_characters_go():
    assert remove_invisible("a\u200db", keep_emoji=True) == "ab"
    assert remove_invisible("👩\u200d", keep_emoji=True) == "👩"
    assert remove_invisible("\u200d💻", keep_emoji=True) == "💻"
    assert remove_invisible("👩\u200d\u200d💻", keep_emoji=True) == "👩\u200d💻"  # one joiner
    assert remove_invisible("x\U000e0067\U000e007f", keep_emoji=True) == "x"  # tags, no flag
    assert remove_invisible("🏴\U000e0067\U000e0062", keep_emoji=True) == "🏴"  # unterminated
    assert remove_invisible("🏴" + "\U000e0061" * 40 + "\U000e007f", keep_emoji=True) == "🏴"
    assert remove_invisible("\u3164\u115f\u00ad\u180e\u2060\u2064", keep_emoji=True) == ""


# ----- widgets -------------------------------------------------------------------------------


async def show_peers(labels: list[str]) -> list[dict[str, str]]:
    """One real app; for each label a chat screen whose peer announced it: what each sink shows."""
    from textual.widgets import Static

    from p2pchat.tui.screens.chat import ChatScreen
    from tests.tui.helpers import paired_event, real_prepare, text_of
    from tests.tui.test_offline import offline_app

    app = offline_app()
    seen: list[dict[str, str]] = []
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        for label in labels:
            chat = ChatScreen(paired=paired_event(label), my_label="me", prepare_image=real_prepare)
            await app.push_screen(chat)
            await pilot.pause()
            chat.apply_event(ev.TextReceived("m1", label, 1_700_000_000.0))
            chat.apply_event(ev.TimerChanged(seconds=30, by_peer=True))
            chat.apply_event(ev.PeerTyping())
            await pilot.pause()
            item = chat.query_one(MessageItem)
            seen.append(
                {
                    "typing": text_of(chat.query_one("#typing", Static)),
                    "header": text_of(item.query_one(".message-header")),
                    "body": text_of(item.query_one(".message-body")),
                    "notices": "\n".join(text_of(n) for n in chat.query(".notice")),
                }
            )
            chat.apply_event(ev.PeerLeft(reason=label))
            await pilot.pause()
            assert app.is_running and app.return_code is None
            await app.pop_screen()
    return seen


def check_widgets(raws: list[str]) -> None:
    EXAMPLES["widgets"] += len(raws)
    # What the service passes on, behind the marker that shows where a name met a parser.
    names = [MARKER + (safe_label(raw, MAX_LABEL_CHARS) or "peer") for raw in raws]
    with recording_markup() as recorder:
        seen = asyncio.run(show_peers(names))
    assert recorder.with_marker() == [], "a peer string was parsed as markup"
    for name, shown in zip(names, seen, strict=True):
        expected = safe_label(name, 40)
        assert shown["typing"].startswith(expected)
        assert shown["header"].startswith(expected)
        assert shown["body"] == safe_label(name, 16_000, multiline=True)
        assert shown["notices"].count(expected) >= 2  # paired, timer


@APPS
@given(st.lists(hostile_text, min_size=10, max_size=30))
def test_fuzz_widgets_show_peer_names_literally(raws):
    check_widgets(raws)


def test_the_audit_names_show_literally_in_every_widget():
    check_widgets(list(HOSTILE_NAMES))
