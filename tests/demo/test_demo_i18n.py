"""The [demo] texts: complete in en and ja, translated, and covering every key the demo uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from p2pchat import i18n
from p2pchat.i18n import set_language
from p2pchat.tui.demo import lessons
from p2pchat.tui.demo.stage import SIDES

DEMO_SOURCES = Path(lessons.__file__).parent
# Proper nouns that may stay the same in every language (none today: even Alice and Bob
# are written in katakana).
SAME_IN_EVERY_LANGUAGE: frozenset[str] = frozenset()
LITERAL_KEY = re.compile(r"""\bt\(\s*["'](demo\.[a-z_.]+)["']""")


def _demo(language: str) -> dict[str, str]:
    return {k: v for k, v in i18n.catalogue(language).items() if k.startswith("demo.")}  # type: ignore[arg-type]


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_demo_keys_and_placeholders():
    en, ja = _demo("en"), _demo("ja")
    assert len(en) > 100
    assert set(en) == set(ja)
    assert {k: _fields(v) for k, v in en.items()} == {k: _fields(v) for k, v in ja.items()}


def test_no_english_left_in_japanese():
    en, ja = _demo("en"), _demo("ja")
    untranslated = {key for key in en if en[key] == ja[key]} - SAME_IN_EVERY_LANGUAGE
    assert untranslated == set()
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    # Separators and EXIF-style acronyms aside, every Japanese text has Japanese in it.
    latin_only = {k for k, v in ja.items() if not japanese.search(v)}
    assert latin_only <= {"demo.short.exif", "demo.short.xmp", "demo.short.separator"}


def test_every_key_the_demo_uses_exists():
    en = _demo("en")
    used: set[str] = set()
    for path in [*DEMO_SOURCES.glob("*.py"), DEMO_SOURCES.parents[1] / "cli" / "cmd_demo.py"]:
        used |= set(LITERAL_KEY.findall(path.read_text("utf-8")))
    assert len(used) > 50, "the scan found too few keys: the pattern is broken"
    # Keys built at run time.
    for step in lessons.STEPS:
        used |= {f"demo.steps.{step.key}.title", f"demo.steps.{step.key}.body"}
    for category in (*lessons.LEAK_KEYS, "other"):
        used |= {f"demo.leak.{category}", f"demo.short.{category}"}
    used |= {f"demo.names.{side}" for side in SIDES}
    assert used - set(en) == set()


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "6 April 2024, 10:15"), ("ja", "2024年4月6日 10:15")],
)
def test_capture_dates_read_as_people_write_them(language: str, expected: str) -> None:
    from p2pchat.tui.demo.lessons import human_time

    set_language(language)
    try:
        assert human_time("2024:04:06 10:15:30") == expected
        assert human_time("not a date") == "not a date"
        assert human_time("2024:13:06 10:15:30") == "2024:13:06 10:15:30"
    finally:
        set_language("en")


def test_a_leak_without_its_own_words_still_reads_in_japanese():
    """ "Also: {what}" used to take the finding's English sentence."""
    from p2pchat.media.report import Finding
    from p2pchat.tui.demo.lesson_words import describe_finding

    set_language("ja")
    try:
        told = describe_finding(Finding("iptc", "low", "An IPTC record (news captions).", {}))
    finally:
        set_language("en")
    assert "record" not in told and "news" not in told
    assert told.startswith("その他: IPTC 情報")
