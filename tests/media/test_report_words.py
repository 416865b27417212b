"""The report's summary line speaks the reader's language (issue 16 §2): in Japanese,
the send dialog showed ``削除したもの: camera Canon EOS REBEL T3i; serial ...``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from p2pchat.i18n import catalogue, set_language
from p2pchat.media.inspect import inspect_image
from tests.photos import photo, photo_files

#: The English words of every summary template (values such as camera names stay).
ENGLISH_WORDS = re.compile(
    r"\b(GPS location|camera|serial|time|software|names|place|faces named|hidden bytes|"
    r"frames|thumbnail|colour profile|metadata|edit history|record|Photoshop data|"
    r"RunTime id|previews|manifest|blocks|no metadata found)\b"
)


@pytest.fixture
def japanese() -> Iterator[None]:
    set_language("ja")
    yield
    set_language("en")


def test_every_real_photo_summary_is_japanese(japanese: None) -> None:
    checked = 0
    for path in photo_files():
        report = inspect_image(path.read_bytes())
        summary = report.summary()
        assert not ENGLISH_WORDS.search(summary), (path.name, summary)
        checked += 1
    assert checked >= 20


def test_canon_serials_and_camera_in_japanese(japanese: None) -> None:
    summary = inspect_image(photo("canon-t3i-serials.jpg").read_bytes()).summary()
    assert "カメラ Canon EOS REBEL T3i" in summary
    assert "シリアル番号 " in summary


def test_english_summary_keeps_the_findings_own_words() -> None:
    set_language("en")
    summary = inspect_image(photo("nikon-gps-DSCN0010.jpg").read_bytes()).summary()
    assert summary.startswith("GPS location 43.47 N 11.89 E; camera NIKON COOLPIX P6000")


def test_every_category_template_exists_in_both_languages() -> None:
    from p2pchat.media.report_words import _FILL, EXTRA_TEMPLATES

    for language in ("en", "ja"):
        keys = catalogue(language)  # type: ignore[arg-type]
        for category in (*_FILL, *EXTRA_TEMPLATES):
            assert f"report.short.{category}" in keys, (language, category)
