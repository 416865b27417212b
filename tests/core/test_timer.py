"""The timer's one list of values: the words, the wire check and the chat model agree."""

from __future__ import annotations

import pytest

from p2pchat.core import framing
from p2pchat.core.conversation import DisappearingTimer
from p2pchat.core.timer import TIMER_SECONDS, describe_timer, parse_timer


def test_one_list_of_timer_values():
    assert {0, 30, 300, 3600, 86400} == TIMER_SECONDS
    assert framing.TIMER_SECONDS is TIMER_SECONDS
    assert max(TIMER_SECONDS) == framing.MAX_TIMER_SECONDS
    assert {timer.value for timer in DisappearingTimer} == TIMER_SECONDS


@pytest.mark.parametrize(("word", "seconds"), [("off", 0), (" 5M ", 300), ("1d", 86400)])
def test_words_parse(word, seconds):
    assert parse_timer(word) == seconds


def test_unknown_words_are_refused_and_values_described():
    with pytest.raises(ValueError, match="off, 30s"):
        parse_timer("2h")
    assert describe_timer(0).startswith("off")
    assert "1h" in describe_timer(3600)
