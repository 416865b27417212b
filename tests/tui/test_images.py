"""Images in the TUI without a network: the send dialog's report, and inline display."""

from __future__ import annotations

import time

from textual.widgets import Button, Checkbox
from textual_image.widget import HalfcellImage

from p2pchat.service import events as ev
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.image_viewer import ImageViewerScreen
from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import ImageMessage, MessageList

from .helpers import GPS_PHOTO, real_prepare, text_of
from .test_offline import offline_app, open_chat


async def settle(app, pilot) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


async def test_send_dialog_shows_what_was_removed_and_returns_a_typed_result():
    app = offline_app()
    results: list[SendDialogResult | None] = []
    async with app.run_test(size=(100, 50)) as pilot:
        await app.push_screen(SendDialog(GPS_PHOTO, real_prepare), results.append)
        await settle(app, pilot)
        report = text_of(app.screen.query_one("#send-report"))
        assert report.startswith("Removed: GPS location")
        assert "NIKON COOLPIX P6000" in report and "embedded thumbnail" in report
        assert "640×480" in report
        assert app.screen.query_one(HalfcellImage)
        assert app.screen.query_one("#original-size", Checkbox).value is False
        await pilot.click("#view-once")
        await pilot.click("#send")
        await pilot.pause()
    [result] = results
    assert result is not None and result.view_once and not result.original_size
    assert result.prepared.mime == "image/jpeg"
    assert b"Exif" not in result.prepared.data[:4096]


async def test_send_dialog_refuses_what_is_not_an_image():
    app = offline_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await app.push_screen(SendDialog(b"certainly not a picture", real_prepare))
        await settle(app, pilot)
        assert "cannot be sent" in text_of(app.screen.query_one("#send-report"))
        assert app.screen.query_one("#send", Button).disabled


async def test_send_dialog_without_peer_view_once_disables_the_toggle():
    app = offline_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await app.push_screen(SendDialog(GPS_PHOTO, real_prepare, peer_view_once=False))
        await pilot.pause()
        assert app.screen.query_one("#view-once", Checkbox).disabled


async def test_received_image_is_shown_inline_with_its_report_and_opens_larger():
    prepared = await real_prepare(GPS_PHOTO.read_bytes(), False)
    app = offline_app()
    async with app.run_test(size=(100, 50)) as pilot:
        chat = await open_chat(app, pilot)
        chat.apply_event(
            ev.ImageReceived(
                "img1",
                prepared.data,
                prepared.mime,
                prepared.width,
                prepared.height,
                view_once=False,
                view_seconds=10,
                removed=(),
            )
        )
        await settle(app, pilot)
        item = chat.query_one(MessageList).get("img1")
        assert isinstance(item, ImageMessage)
        assert item.query_one(HalfcellImage)
        assert "nothing hidden" in text_of(item.query_one(".message-report"))
        item.query_one(ImageView).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ImageViewerScreen)
        assert app.screen.query_one(HalfcellImage)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_view_once_image_never_reaches_the_message_list_as_pixels():
    app = offline_app()
    async with app.run_test(size=(100, 50)) as pilot:
        chat = await open_chat(app, pilot)
        chat.apply_event(
            ev.ImageReceived("v1", b"", "image/jpeg", 10, 10, True, 10.0, (), vault_id="x")
        )
        await settle(app, pilot)
        item = chat.query_one(MessageList).get("v1")
        assert not item.query(ImageView)
        assert "View-once photo" in text_of(item.query_one(".message-caption"))


async def test_undecodable_image_says_so_instead_of_crashing():
    app = offline_app()
    async with app.run_test(size=(100, 50)) as pilot:
        chat = await open_chat(app, pilot)
        chat.query_one(MessageList).add_image(
            "x", "in", "bob", b"\xff\xd8garbage", sent_at=time.time()
        )
        await settle(app, pilot)
        assert "cannot be shown" in text_of(chat.query_one(ImageView).query_one("Static"))
