"""The content X-ray: faces, text and documents found on real pictures, blurred for good."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from p2pchat.core.errors import ImageRejected
from p2pchat.i18n import set_language
from p2pchat.media import content_ocr
from p2pchat.media.content_fix import ContentFixes, content_pass
from p2pchat.media.content_scan import Box, scan
from p2pchat.media.report import PrivacyReport
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from p2pchat.media.worker import sanitize_isolated

DATA = Path(__file__).resolve().parents[1] / "data"
LABELS = tomllib.loads((DATA / "content" / "labels.toml").read_text("utf-8"))["files"]


def picture(name: str) -> Image.Image:
    image = Image.open(DATA / name).convert("RGB")
    image.thumbnail((2048, 2048))
    return image


def labelled(key: str) -> list[str]:
    return sorted(name for name, label in LABELS.items() if label.get(key))


@pytest.mark.parametrize("name", labelled("faces"))
def test_frontal_faces_are_found(name: str) -> None:
    assert len(scan(picture(name)).faces) >= LABELS[name]["faces"]


@pytest.mark.parametrize("name", labelled("document"))
def test_cards_receipts_pages_and_screens_look_like_documents(name: str) -> None:
    assert scan(picture(name)).documents, name


@pytest.mark.parametrize("name", labelled("landscape"))
def test_plain_scenes_raise_no_face_or_document(name: str) -> None:
    found = scan(picture(name))
    assert found.faces == [] and found.documents == [], name


def with_text() -> list[str]:
    return sorted(
        name for name, label in LABELS.items() if label.get("document") or "digits" in label
    )


# read=True reads each lone line back (the ocr extra; without it, as read=False);
# read=False judges it by its strokes alone. Both must hold on the labelled set.
@pytest.mark.parametrize("read", [True, False])
@pytest.mark.parametrize("name", labelled("landscape"))
def test_plain_scenes_show_no_text(name: str, read: bool) -> None:
    assert scan(picture(name), read=read).text == [], name


@pytest.mark.parametrize("read", [True, False])
@pytest.mark.parametrize("name", with_text())
def test_pictures_with_text_still_show_it(name: str, read: bool) -> None:
    found = scan(picture(name), read=read)
    assert found.text, name
    assert "text_visible" in {f.category for f in found.findings()}


@pytest.mark.parametrize("name", labelled("document"))
def test_a_dark_mode_screen_is_told_from_paper(name: str) -> None:
    kinds = {doc.kind for doc in scan(picture(name)).documents}
    assert ("screen" in kinds) == bool(LABELS[name].get("screen")), kinds


def test_a_screen_is_worded_as_one() -> None:
    findings = scan(picture("photos/panasonic-lx7-mpo-second-frame.jpg")).findings()
    [document] = [f for f in findings if f.category == "document_visible"]
    assert document.detail["i18n"] == "report.content.document_screen"
    set_language("ja")
    try:
        assert "画面のような場所" in PrivacyReport("JPEG", 1, 1, [document]).summary()
    finally:
        set_language("en")


def test_japanese_card_and_receipt_are_documents() -> None:
    for name in ("content/synthetic-card-ja.jpg", "content/synthetic-receipt-ja.jpg"):
        assert scan(picture(name)).documents, name


def _sharpened(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)).filter(
        ImageFilter.SHARPEN
    )


@pytest.mark.parametrize("name", labelled("faces"))
def test_blurred_faces_stay_gone_even_sharpened(name: str) -> None:
    image = picture(name)
    fixed, findings = content_pass(image, ContentFixes(blur_faces=True))
    assert scan(fixed).faces == []
    assert scan(_sharpened(fixed)).faces == []
    blurred = [f for f in findings if f.category == "blurred"]
    assert blurred and blurred[0].detail["blurred"]["faces"] >= 1
    assert "face_visible" not in {f.category for f in findings}


def test_blurred_text_no_longer_reads_as_a_document() -> None:
    image = picture("content/synthetic-receipt.jpg")
    fixed, findings = content_pass(image, ContentFixes(blur_text=True))
    assert scan(image).documents
    assert scan(fixed).documents == []
    assert "document_visible" not in {f.category for f in findings}


def test_a_hand_drawn_box_is_pixelated_and_only_there() -> None:
    image = picture("content/skimage-astronaut.jpg")
    box = Box(0.0, 0.0, 0.25, 0.25)
    fixed, findings = content_pass(image, ContentFixes(boxes=(box,)), scan_content=False)
    left, top, right, bottom = box.pixels(*image.size)
    inside = fixed.crop((left, top, right, bottom))
    assert inside.tobytes() != image.crop((left, top, right, bottom)).tobytes()
    assert (
        fixed.crop((right, bottom, *image.size)).tobytes()
        == image.crop((right, bottom, *image.size)).tobytes()
    )
    assert findings[0].detail["blurred"] == {"boxes": 1}


def test_box_from_json_refuses_what_is_not_a_fraction() -> None:
    for bad in ([0, 0, 2, 1], [0.1, 0.1, 0, 0.2], "x", [0.1, 0.2, 0.3], [-0.1, 0, 0.5, 0.5]):
        with pytest.raises(ValueError):
            Box.from_list(bad)
    with pytest.raises(ValueError):
        ContentFixes.from_dict({"blur_faces": "yes"})
    with pytest.raises(ValueError):
        ContentFixes.from_dict({"boxes": [[0.1, 0.1, 0.2, 0.2]] * 100})


def _jpeg(name: str) -> bytes:
    out = io.BytesIO()
    picture(name).save(out, format="JPEG", quality=92)
    return out.getvalue()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_report_words_what_the_picture_shows(language: str) -> None:
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
        assert "1 face(s) visible in the picture" in summary
        assert "text that looks like a card or ID" in summary
    else:
        assert "写真に顔が1人分写っています" in summary
        assert "カードや身分証のような文字" in summary
    # Ranked with the metadata findings: a face before the text lines.
    assert summary.index("1" if language == "en" else "顔") < len(summary)
    categories = [f.category for f in sorted(report.findings, key=_rank)]
    assert categories.index("face_visible") < categories.index("text_visible")


def _rank(finding: object) -> tuple[int, int]:
    from p2pchat.media.report import importance

    return importance(finding)  # type: ignore[arg-type]


def test_the_receiving_side_never_scans() -> None:
    data = _jpeg("content/skimage-astronaut.jpg")
    policy = SanitizePolicy(side="receive", scan_content=True, fixes=ContentFixes(blur_faces=True))
    result = sanitize_image(data, policy)
    assert not {"face_visible", "blurred"} & result.report.categories()


def test_the_isolated_worker_scans_and_blurs() -> None:
    data = _jpeg("content/skimage-astronaut.jpg")
    seen = sanitize_isolated(data, SanitizePolicy(scan_content=True))
    assert "face_visible" in seen.report.categories()
    fixed = sanitize_isolated(
        data, SanitizePolicy(scan_content=True, fixes=ContentFixes(blur_faces=True))
    )
    assert "face_visible" not in fixed.report.categories()
    assert "blurred" in fixed.report.categories()
    assert scan(Image.open(io.BytesIO(fixed.data))).faces == []


def test_sanitize_cli_blurs_and_lowers_the_resolution(tmp_path: Path) -> None:
    source, out = tmp_path / "card.jpg", tmp_path / "clean.jpg"
    source.write_bytes(_jpeg("content/synthetic-card-face.jpg"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "p2pchat",
            "sanitize",
            str(source),
            "-o",
            str(out),
            "--blur-faces",
            "--blur-text",
            "--max-side",
            "640",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert max(answer["width"], answer["height"]) == 640
    picture_findings = {f["category"]: f for f in answer["picture"]}
    assert picture_findings["blurred"]["detail"]["blurred"]["faces"] == 1
    assert "face_visible" not in picture_findings
    # What the picture shows is not listed as removed: it was not removed.
    assert not {"face_visible", "blurred"} & {f["category"] for f in answer["removed"]["findings"]}
    cleaned = Image.open(out)
    assert max(cleaned.size) == 640
    assert scan(cleaned).faces == []


def test_sanitize_cli_warns_in_plain_words(tmp_path: Path) -> None:
    source, out = tmp_path / "me.jpg", tmp_path / "clean.jpg"
    source.write_bytes(_jpeg("content/skimage-astronaut.jpg"))
    done = subprocess.run(
        [sys.executable, "-m", "p2pchat", "sanitize", str(source), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "in the picture" in done.stdout
    assert "1 face is visible in the picture." in done.stdout


@pytest.mark.parametrize("value", ["0", "abc", "99999999"])
def test_sanitize_cli_refuses_a_silly_max_side(tmp_path: Path, value: str) -> None:
    source = tmp_path / "me.jpg"
    source.write_bytes(_jpeg("content/skimage-astronaut.jpg"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "p2pchat",
            "sanitize",
            str(source),
            "-o",
            str(tmp_path / "o"),
            "--max-side",
            value,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "--max-side" in done.stderr


def test_opencv_stays_out_of_the_chat_process(tmp_path: Path) -> None:
    """The chat process imports the TUI, the service and headless, and sends through the
    worker: OpenCV and the digit reader (onnxruntime) are loaded in the worker only."""
    (tmp_path / "me.jpg").write_bytes(_jpeg("content/synthetic-card-face.jpg"))
    script = (
        "import sys, asyncio\n"
        "import p2pchat.tui.app, p2pchat.headless, p2pchat.tui.screens.send_dialog\n"
        "from p2pchat.service import ChatService\n"
        "from p2pchat.service.config import ServiceConfig\n"
        "service = ChatService(ServiceConfig(mailbox_url='ws://127.0.0.1:9/v1', loopback=True))\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "result = asyncio.run(service.prepare_image(data))\n"
        "assert 'face_visible' in result.report.categories(), result.report.summary()\n"
        "numbers = 'number_visible' in result.report.categories()\n"
        "heavy = {'cv2', 'onnxruntime', 'rapidocr'} & set(sys.modules)\n"
        "print(sorted(heavy) or 'none', numbers)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "me.jpg")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    heavy, numbers = done.stdout.split()
    assert heavy == "none"
    # The digits were read (in the worker) when the reader is installed.
    assert numbers == str(content_ocr.model_path() is not None)


def test_a_failing_check_warns_and_never_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    from p2pchat.media import content_fix

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(content_fix, "scan", broken)
    data = _jpeg("content/skimage-astronaut.jpg")
    result = sanitize_image(data, SanitizePolicy(scan_content=True))
    assert result.data and any(
        "picture check could not run" in note for note in result.report.notes
    )
    with pytest.raises(ImageRejected, match="blur could not be applied"):
        sanitize_image(data, SanitizePolicy(scan_content=True, fixes=ContentFixes(blur_faces=True)))
