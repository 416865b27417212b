"""The en and ja catalogues are complete, consistent, and cover every key the UI uses."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from p2pchat import i18n
from p2pchat.core.message import MessageState
from p2pchat.tui.widgets.message_list import state_word

# Texts that are rightly the same, or rightly in Latin letters, in Japanese; each with why.
SAME_IN_EVERY_LANGUAGE = {
    "app.title": "the program's name",
    "demo.short.exif": "EXIF is the format's name in Japanese too",
    "demo.short.xmp": "XMP is the format's name in Japanese too",
}
# Any run of kana or kanji (and full-width forms).
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
SOURCES = Path(i18n.__file__).parents[1]
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogues_have_the_same_keys():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    assert set(en) == set(ja)
    assert len(en) > 100


def _words(template: str) -> list[str]:
    """The Latin-letter words of a template, its {placeholders} left out."""
    return ASCII_WORD.findall(re.sub(r"\{[^}]*\}", "", template))


def test_japanese_is_translated():
    """A Japanese text the same as the English one, with English words in it, is untranslated
    (a bare "{file}: {format} {size}" is not: it has no words)."""
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    untranslated = {key for key in en if en[key] == ja[key] and _words(ja[key])}
    assert untranslated - set(SAME_IN_EVERY_LANGUAGE) == set()


def test_no_japanese_text_is_english_only():
    """Walks every key: a Japanese text with Latin words must also hold Japanese, unless
    allow-listed above (catches an English text pasted into ja.toml, edited or not)."""
    ja = i18n.catalogue("ja")
    english_only = {
        key for key, value in ja.items() if _words(value) and not JAPANESE.search(value)
    }
    assert english_only - set(SAME_IN_EVERY_LANGUAGE) == set()
    assert set(SAME_IN_EVERY_LANGUAGE) <= set(ja), "an allow-listed key no longer exists"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_key_formats_in_both_languages(language):
    """Every text of the catalogue, filled with its own placeholders, comes out whole."""
    try:
        i18n.set_language(language)
        for key, template in i18n.catalogue(language).items():
            text = i18n.t(key, **{name: "7" for name in _fields(template)})
            assert text and "{" not in text.replace("{{", ""), (language, key, text)
    finally:
        i18n.set_language("en")


def test_placeholders_match_between_languages():
    en, ja = i18n.catalogue("en"), i18n.catalogue("ja")
    assert {k: _fields(v) for k, v in en.items()} == {k: _fields(v) for k, v in ja.items()}


def test_every_key_used_in_the_code_exists():
    used: set[str] = set()
    for folder in ("tui", "cli", "media", "service"):
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
