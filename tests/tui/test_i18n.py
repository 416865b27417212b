"""The en and ja catalogues are complete, consistent, and cover every key the UI uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from p2pchat import i18n
from p2pchat.core.message import MessageState
from p2pchat.tui.widgets.message_list import state_word

# Proper nouns and samples that are the same in every language.
SAME_IN_EVERY_LANGUAGE = {"app.title"}
SOURCES = Path(i18n.__file__).parents[1]
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogues_have_the_same_keys():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    assert set(en) == set(ja)
    assert len(en) > 100


def test_japanese_is_translated():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    untranslated = {key for key in en if en[key] == ja[key]} - SAME_IN_EVERY_LANGUAGE
    assert untranslated == set()


def test_placeholders_match_between_languages():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    assert {k: _fields(v) for k, v in en.items()} == {k: _fields(v) for k, v in ja.items()}


def test_every_key_used_in_the_code_exists():
    used: set[str] = set()
    for folder in ("tui", "cli"):
        for path in (SOURCES / folder).rglob("*.py"):
            used |= set(LITERAL_KEY.findall(path.read_text("utf-8")))
    assert used, "the scan found no keys: the pattern is broken"
    missing = used - set(i18n.catalogue("en"))
    assert missing == set()


def test_dynamic_keys_exist():
    en = i18n.catalogue("en")
    states = {state_word(state) for state in MessageState} | {"viewed"}
    assert all(f"delivery.{state}" in en for state in states)
    ja = i18n.catalogue("ja")
    assert all(f"delivery.{state}" in ja for state in states)
    connection = ("pairing", "connecting", "connected", "lost", "closed")
    assert all(f"status.{state}" in en for state in connection)


def test_t_formats_switches_language_and_falls_back():
    try:
        i18n.set_language("ja")
        assert i18n.t("chat.peer_left", peer="bob") == "bob が会話から退出しました。"
        i18n.set_language("en")
        assert i18n.t("chat.peer_left", peer="bob") == "bob left the conversation."
        assert i18n.t("no.such.key") == "no.such.key"
        with pytest.raises(ValueError, match="unknown language"):
            i18n.set_language("xx")
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"LC_MESSAGES": "ja"}, "ja"),
        ({}, "en"),
    ],
)
def test_locale_detection(environ, expected):
    assert i18n.detect_language(environ) == expected
