"""The disappearing-message timer: the values people can agree on, and their words.

The one list of timer settings (off, 30 s, 5 min, 1 h, 1 day): the wire format
(``framing``) accepts only these, the session offers only these, and the front
ends parse and describe them here.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class DisappearingTimer(Enum):
    """How long messages stay; a new setting applies to messages added after it."""

    OFF = 0
    SECONDS_30 = 30
    MINUTES_5 = 5 * 60
    HOUR_1 = 3600
    DAY_1 = 24 * 3600


#: Each word a user may type for a timer, and its seconds ("0" is "off").
TIMER_WORDS: Final = {
    "off": DisappearingTimer.OFF.value,
    "0": DisappearingTimer.OFF.value,
    "30s": DisappearingTimer.SECONDS_30.value,
    "5m": DisappearingTimer.MINUTES_5.value,
    "1h": DisappearingTimer.HOUR_1.value,
    "1d": DisappearingTimer.DAY_1.value,
}
TIMER_SECONDS: Final = frozenset(timer.value for timer in DisappearingTimer)
MAX_TIMER_SECONDS: Final = max(TIMER_SECONDS)


def parse_timer(text: str) -> int:
    """``off``, ``30s``, ``5m``, ``1h`` or ``1d`` as seconds (``ValueError`` otherwise)."""
    seconds = TIMER_WORDS.get(text.strip().lower())
    if seconds is None:
        raise ValueError("the timer is one of: off, 30s, 5m, 1h, 1d")
    return seconds


def describe_timer(seconds: int) -> str:
    """Words for a timer setting, for status lines."""
    if seconds == 0:
        return "off: messages stay until you leave (they are never written to disk)"
    for word, value in TIMER_WORDS.items():
        if value == seconds and word not in ("0", "off"):
            return f"messages disappear {word} after they arrive, on both screens"
    return f"messages disappear {seconds} s after they arrive, on both screens"
