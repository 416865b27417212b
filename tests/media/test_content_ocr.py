"""The digit reader: long numbers found on real pictures, told as a count, blurred for good."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from p2pchat.i18n import set_language
from p2pchat.media import content_confirm, content_ocr
from p2pchat.media.content_fix import ContentFixes, content_pass
from p2pchat.media.content_ocr import count_digit_runs, read_digit_runs
from p2pchat.media.content_scan import Box, scan
from p2pchat.media.report import PrivacyReport, importance
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from p2pchat.media.worker import sanitize_isolated
from tests.media.test_content_scan import LABELS, picture

INSTALLED = content_ocr.model_path() is not None
# CI installs the [ocr] extra (scripts/test): there a missing reader is a failure, not a skip.
needs_reader = pytest.mark.skipif(
    not INSTALLED and not os.environ.get("CI"),
    reason="the digit check is not installed: pip install 'p2pchat[ocr]'",
)
# Every number printed on the labelled pictures (all made up): none may leave the check.
SECRETS = ("4929", "5678", "9012", "0147", "0123", "5550")


def with_digits() -> list[str]:
    return sorted(name for name, label in LABELS.items() if label.get("digits"))


def without_digits() -> list[str]:
    return sorted(
        name
        for name, label in LABELS.items()
        if label.get("digits") == [] or label.get("landscape")
    )


@pytest.fixture
def unhurried(monkeypatch: pytest.MonkeyPatch) -> None:
    """What is read, not how fast: the time budget has its own test."""
    monkeypatch.setattr(content_ocr, "BUDGET_CPU_S", 30.0)


@needs_reader
@pytest.mark.usefixtures("unhurried")
@pytest.mark.parametrize("name", with_digits())
def test_long_numbers_are_read(name: str) -> None:
    found = scan(picture(name))
    assert sorted(run.digits for run in found.numbers) == sorted(LABELS[name]["digits"])
    assert found.digit_check == "ok"


@needs_reader
@pytest.mark.usefixtures("unhurried")
@pytest.mark.parametrize("name", without_digits())
def test_no_long_number_where_there_is_none(name: str) -> None:
    assert scan(picture(name)).numbers == [], name


def test_what_counts_as_a_long_number() -> None:
    assert count_digit_runs("No. 4929 1234 5678 9012") == [16]
    assert count_digit_runs("Tel (03) 5550-0147") == [10]
    assert count_digit_runs("電話 ０９０−５５５０−０１２３") == [
        11
    ]  # full-width, as printed in Japan
    assert count_digit_runs("会員番号 1234 5678 9012 有効期限 2029年12月") == [12]
    for short in ("Valid to 12/29", "2029年12月", "¥1,080", "TOTAL 82.50", "Open 8 - 18", "1998"):
        assert count_digit_runs(short) == [], short


def _sharpened(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=4, percent=250)).filter(ImageFilter.SHARPEN)


@needs_reader
@pytest.mark.usefixtures("unhurried")
@pytest.mark.parametrize(
    "name",
    [
        "content/synthetic-card-face.jpg",
        "content/synthetic-card-ja.jpg",
        # Its number is on a row the line finder missed: the reader's own box is blurred.
        "content/synthetic-note-phone.jpg",
    ],
)
def test_blurred_text_leaves_no_long_number_even_sharpened(name: str) -> None:
    image = picture(name)
    assert scan(image).numbers
    fixed, findings = content_pass(image, ContentFixes(blur_text=True))
    assert scan(fixed).numbers == []
    assert scan(_sharpened(fixed)).numbers == []
    assert "number_visible" not in {f.category for f in findings}


def _jpeg(name: str) -> bytes:
    out = io.BytesIO()
    picture(name).save(out, format="JPEG", quality=92)
    return out.getvalue()


@needs_reader
@pytest.mark.usefixtures("unhurried")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_report_counts_digits_and_ranks_them(language: str) -> None:
    result = sanitize_image(
        _jpeg("content/synthetic-card-face.jpg"), SanitizePolicy(scan_content=True)
    )
    report = PrivacyReport.from_dict(json.loads(result.report.to_json()))  # as from the worker
    set_language(language)
    try:
        summary = report.summary()
    finally:
        set_language("en")
    if language == "en":
        assert "16, 11 digits can be read" in summary
    else:
        assert "16, 11桁の数字が読み取れます" in summary
    categories = [f.category for f in sorted(report.findings, key=importance)]
    assert categories.index("number_visible") < categories.index("text_visible")


def leaks(text: str) -> list[str]:
    """The labelled numbers' groups found in ``text`` as words of their own."""
    return [s for s in SECRETS if re.search(rf"(?<![0-9A-Za-z]){s}(?![0-9A-Za-z])", text)]


@needs_reader
@pytest.mark.usefixtures("unhurried")
def test_the_digits_never_leave_the_check(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Not in the report (either language, JSON or words), the notes, the logs, or the
    sanitize command's output: only how many digits there are."""
    assert leaks("No. 4929 1234 5678 9012") == ["4929", "5678", "9012"]  # it would see one
    caplog.set_level(logging.DEBUG)
    names = ("content/synthetic-card-face.jpg", "content/synthetic-note-phone.jpg")
    for name in names:
        result = sanitize_image(_jpeg(name), SanitizePolicy(scan_content=True))
        assert "number_visible" in result.report.categories()
        said = [result.report.to_json(), *result.report.notes]
        for language in ("en", "ja"):
            set_language(language)
            try:
                said.append(result.report.summary())
            finally:
                set_language("en")
        assert leaks("\n".join(said)) == [], name
    assert leaks(caplog.text) == []
    source = tmp_path / "card.jpg"
    source.write_bytes(_jpeg(names[0]))
    for extra in ([], ["--json"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "p2pchat",
                "sanitize",
                str(source),
                "-o",
                str(tmp_path / "o"),
                "--force",
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        assert done.returncode == 0, done.stderr
        assert "16" in done.stdout and leaks(done.stdout + done.stderr) == [], done.stdout


@needs_reader
def test_the_isolated_worker_reads_numbers() -> None:
    seen = sanitize_isolated(
        _jpeg("content/synthetic-card-ja.jpg"), SanitizePolicy(scan_content=True)
    )
    numbers = [f for f in seen.report.findings if f.category == "number_visible"]
    assert numbers and numbers[0].detail["digits"] == [12, 11]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_without_the_reader_the_check_says_so_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    monkeypatch.setattr(content_ocr, "model_path", lambda: None)
    found = scan(picture("content/synthetic-card-face.jpg"))
    assert found.digit_check == "absent" and found.numbers == []
    assert found.documents and found.faces  # the rest of the check still ran
    report = PrivacyReport("JPEG", 1, 1, found.findings())
    set_language(language)
    try:
        summary = report.summary()
    finally:
        set_language("en")
    expected = (
        "the digit check is not installed" if language == "en" else "数字チェックが入っていません"
    )
    assert expected in summary and "p2pchat[ocr]" in summary
    # A photo with no text at all does not nag about it.
    assert "digit_check" not in {
        f.category for f in scan(picture("content/skimage-rocket.jpg")).findings()
    }


@needs_reader
def test_a_spent_time_budget_is_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content_ocr, "BUDGET_CPU_S", -1.0)
    found = scan(picture("content/synthetic-card-face.jpg"))
    assert found.digit_check == "partial" and found.numbers == []
    assert "report.content.digits_partial" in {f.detail.get("i18n") for f in found.findings()}


@needs_reader
def test_boxes_anywhere_give_boxes_inside_the_picture() -> None:
    image = picture("content/synthetic-card-face.jpg")
    odd = [Box(0.0, 0.0, 1.0, 1.0), Box(0.99, 0.99, 0.01, 0.01), Box(0.0, 0.5, 1.0, 0.001)]
    check = read_digit_runs(image, odd, odd)
    for run in check.runs:
        assert run.box.x >= 0.0 and run.box.x + run.box.w <= 1.0 + 1e-6
        assert run.box.y >= 0.0 and run.box.y + run.box.h <= 1.0 + 1e-6


@needs_reader
@pytest.mark.parametrize("error", [RuntimeError("bad model"), ImportError("no onnxruntime")])
def test_a_broken_reader_leaves_the_rest_of_the_check(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def broken(*_args: object) -> None:
        raise error

    monkeypatch.setattr(content_ocr, "_recogniser", broken)
    found = scan(picture("content/synthetic-card-face.jpg"))
    assert found.faces and found.documents and found.numbers == []
    expected = "absent" if isinstance(error, ImportError) else "failed"
    assert found.digit_check == expected
    assert f"report.content.digits_{expected}" in {f.detail.get("i18n") for f in found.findings()}
    # And a blur still works: the text is pixelated, not refused.
    _fixed, findings = content_pass(
        picture("content/synthetic-card-face.jpg"), ContentFixes(blur_text=True)
    )
    assert "blurred" in {f.category for f in findings}


@needs_reader
@pytest.mark.parametrize(
    "name", ["content/skimage-grass.jpg", "content/skimage-hubble_deep_field.jpg"]
)
def test_lone_lines_past_the_budget_are_judged_by_their_strokes(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(content_confirm, "BUDGET_CPU_S", -1.0)
    assert scan(picture(name)).text == []
    assert scan(picture("content/synthetic-note-phone.jpg")).text


@needs_reader
def test_a_broken_reader_still_judges_lone_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("bad model")

    monkeypatch.setattr(content_ocr, "_recogniser", broken)
    assert scan(picture("photos/orientation/landscape_1.jpg")).text == []
    found = scan(picture("content/synthetic-note-phone-ja.jpg"))
    assert found.text and found.digit_check == "failed"


@needs_reader
def test_a_lone_line_is_kept_only_if_it_reads_as_text() -> None:
    assert content_confirm.reads_as_text("090-5550-0123", 0.99)
    assert content_confirm.reads_as_text("会員", 0.95)
    assert not content_confirm.reads_as_text("A", 0.99)  # one mark is not a line of text
    assert not content_confirm.reads_as_text("asesa", 0.25)  # a waterfall, read with doubt


@needs_reader
@pytest.mark.usefixtures("unhurried")
def test_the_rows_with_the_most_marks_are_read_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rows of the card read: its two numbers, not its name and its date."""
    monkeypatch.setattr(content_ocr, "MAX_ROWS", 2)
    found = scan(picture("content/synthetic-card-face.jpg"))
    assert sorted(run.digits for run in found.numbers) == [11, 16]


@needs_reader
def test_the_model_is_loaded_only_for_a_photo_with_a_line_and_once() -> None:
    """A fresh process (as a worker is): a photo where the finder sees no line loads no
    model; a plain scene with a false line loads it once, for the read-back and the
    digits both, and no text is reported."""
    script = (
        "import sys\n"
        "from tests.media.test_content_scan import picture\n"
        "from p2pchat.media import content_ocr\n"
        "from p2pchat.media.content_scan import scan\n"
        "assert scan(picture('content/skimage-rocket.jpg')).text == []\n"
        "print(content_ocr._SESSION is None, 'onnxruntime' in sys.modules)\n"
        "assert scan(picture('content/skimage-grass.jpg')).text == []\n"
        "first = content_ocr._SESSION\n"
        "assert scan(picture('content/synthetic-note-phone.jpg')).numbers\n"
        "print(first is not None and content_ocr._SESSION is first)\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert out == ["True", "False", "True"]
