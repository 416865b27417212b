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
