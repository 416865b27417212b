"""Regression (seen in docs/screenshot.svg): a clean photo was reported as
"Removed: Arrived clean: nothing hidden had to be removed."."""

from __future__ import annotations

from p2pchat.service import events as ev
from p2pchat.tui.widgets.message_list import ImageMessage

from .helpers import GPS_PHOTO, real_prepare, text_of
from .test_offline import offline_app, open_chat


async def _received_report(removed: tuple[str, ...]) -> str:
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        prepared = await real_prepare(GPS_PHOTO.read_bytes(), False)
        image = ev.ImageReceived(
            "i1",
            prepared.data,
            prepared.mime,
            prepared.width,
            prepared.height,
            view_once=False,
            view_seconds=10,
            removed=removed,
        )
        chat.apply_event(image)
        await pilot.pause()
        return text_of(chat.query_one(ImageMessage).query_one(".message-report"))


async def test_clean_arrival_is_not_called_a_removal():
    report = await _received_report(())
    assert report == "Arrived clean: nothing hidden had to be removed."


async def test_findings_are_listed_as_removed():
    report = await _received_report(("GPS location", "camera NIKON"))
    assert report == "Removed: GPS location; camera NIKON"


async def test_a_received_report_reads_in_the_readers_language():
    """Issue 16 §2: with --lang ja the receiver's chat listed the findings' English sentences."""
    from p2pchat.i18n import set_language
    from p2pchat.media.inspect import inspect_image
    from tests.photos import photo

    from ..media.test_report_sentences import english_left

    report = inspect_image(photo("canon-t3i-serials.jpg").read_bytes())
    removed = tuple(f.message for f in report.findings)  # what headless scripts get
    try:
        app = offline_app(language="ja")
        async with app.run_test() as pilot:
            chat = await open_chat(app, pilot)
            prepared = await real_prepare(GPS_PHOTO.read_bytes(), False)
            chat.apply_event(
                ev.ImageReceived(
                    "i1",
                    prepared.data,
                    prepared.mime,
                    prepared.width,
                    prepared.height,
                    view_once=False,
                    view_seconds=10,
                    removed=removed,
                    findings=tuple(report.findings),
                )
            )
            await pilot.pause()
            shown = text_of(chat.query_one(ImageMessage).query_one(".message-report"))
    finally:
        set_language("en")
    assert shown.startswith("削除したもの: シリアル番号 142066080698"), shown
    assert "カメラ Canon EOS REBEL T3i" in shown
    leftover = english_left(shown.replace("Canon EOS REBEL T3i", "").replace("ZA2146315", ""))
    assert leftover == set(), shown
