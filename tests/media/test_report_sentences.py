"""Every finding sentence and note reads in Japanese (issue 16 §2): ``inspect`` and
``sanitize`` printed each finding's English sentence, the receiver's chat its English
messages, under ``--lang ja``.

The check: once the values a finding carries (camera models, names, comments: data,
shown as they are) are taken out, no English word is left in the Japanese text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from p2pchat.i18n import catalogue, set_language
from p2pchat.media import sanitize as sanitize_module
from p2pchat.media.inspect import inspect_image
from p2pchat.media.report import _SUMMARY_ORDER, Finding, PrivacyReport
from p2pchat.media.report_sentences import _NOTES, describe, describe_note, removed_summary
from tests.photos import photo, photo_files

#: Names and formats that are the same in Japanese.
PROPER = {"GPS", "EXIF", "XMP", "IPTC", "C2PA", "HEIF", "PNG", "JPEG", "Photoshop", "ID", "sRGB"}
WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def japanese() -> Iterator[None]:
    set_language("ja")
    yield
    set_language("en")


def _values(detail: dict[str, Any]) -> Iterator[str]:
    for value in detail.values():
        if isinstance(value, dict):
            yield from _values(value)
        elif isinstance(value, list | tuple):
            yield from (str(item) for item in value)
        else:
            yield str(value)


def values_of(report: PrivacyReport) -> list[str]:
    """Every value the report's findings carry (data shown as it is, in any language)."""
    return [value for finding in report.findings for value in _values(finding.detail)]


def english_left(text: str, finding: Finding | None = None) -> set[str]:
    """English words in ``text`` that are not a value of the finding nor a proper name."""
    if finding is not None:
        for value in sorted(_values(finding.detail), key=len, reverse=True):
            if len(value) > 1:
                text = text.replace(value, " ")
    return set(WORD.findall(text)) - PROPER


def test_every_finding_of_every_real_photo_is_a_japanese_sentence(japanese: None) -> None:
    told = 0
    for path in photo_files():
        for finding in inspect_image(path.read_bytes()).findings:
            sentence = describe(finding)
            assert english_left(sentence, finding) == set(), (path.name, finding.message, sentence)
            assert sentence.endswith("。"), sentence
            told += 1
    assert told > 100


def test_a_category_without_values_or_template_still_reads_in_japanese(japanese: None) -> None:
    """The class: an unusual finding (a GPS block with no position, a broken structure,
    a category this version does not know) never falls back to its English words."""
    odd = [
        Finding("gps", "medium", "A GPS block is present (no usable position).", {"tags": [1]}),
        Finding("malformed", "low", "Structure problem: truncated segment.", {}),
        Finding("text", "medium", "A GIF plain-text block.", {}),
        Finding("brand-new", "low", "Something new and English.", {"short": "new thing"}),
        *(Finding(category, "low", "English words here.", {}) for category in _SUMMARY_ORDER),
    ]
    for finding in odd:
        assert english_left(describe(finding)) == set(), finding
        summary = PrivacyReport("JPEG", 1, 1, [finding]).summary()
        assert english_left(summary) == set(), (finding, summary)


def test_every_category_has_a_kind_and_a_reason_in_both_languages() -> None:
    for language in ("en", "ja"):
        keys = catalogue(language)  # type: ignore[arg-type]
        for category in (*_SUMMARY_ORDER, "other"):
            assert f"report.kind.{category}" in keys, (language, category)
            assert f"report.why.{category}" in keys, (language, category)


def test_english_keeps_each_findings_own_sentence() -> None:
    set_language("en")
    finding = inspect_image(photo("canon-t3i-serials.jpg").read_bytes()).findings[0]
    assert describe(finding) == finding.message


def test_every_note_the_sanitiser_writes_is_retold(japanese: None) -> None:
    """The notes sanitize.py writes, read from its source, all have a Japanese form."""
    source = Path(sanitize_module.__file__).read_text("utf-8")
    written = re.findall(r'notes\.append\(f?"([^"]+)"\)', source)
    assert len(written) >= 6
    examples = [re.sub(r"\{[^}]*\}", "7", note) for note in written]
    examples.append(sanitize_module.WHAT_STRIPPING_CANNOT_REMOVE)
    for note in examples:
        told = describe_note(note)
        assert told != describe_note("something unheard of"), note
        assert english_left(told) == set(), (note, told)
    assert len(_NOTES) == len(examples)


def test_the_receivers_summary_leaves_out_what_the_picture_shows(japanese: None) -> None:
    findings = inspect_image(photo("canon-t3i-serials.jpg").read_bytes()).findings
    shown = Finding("face_visible", "medium", "A face.", {"i18n": "report.content.faces"})
    (line,) = removed_summary([*findings, shown])
    assert "カメラ Canon EOS REBEL T3i" in line
    assert "顔" not in line
    assert removed_summary([shown]) == ()


def test_times_read_as_people_write_them_in_japanese() -> None:
    """A finding's time is not EXIF's ``2008:11:01 21:15:07`` in the reader's sentence."""
    set_language("ja")
    try:
        finding = Finding(
            "time", "low", "time 2008:11:01 21:15:07", {"taken": "2008:11:01 21:15:07"}
        )
        sentence = describe(finding)
        assert "2008年11月1日 21:15" in sentence
        assert "2008:11:01" not in sentence
    finally:
        set_language("en")
