"""The TUI keeps a warm sending worker: opening the file picker asks for one, and the send
dialog's preview is cleaned by it (real ChatService, real worker processes, Pilot)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from p2pchat.media.samples import demo_photo
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.file_picker import FilePicker
from p2pchat.tui.screens.send_dialog import SendDialog
from tests.media.workers import worker_children
from tests.tui.helpers import paired_event
from tests.tui.test_offline import offline_app


async def _until(pilot, condition, what: str, timeout: float = 30.0) -> None:
    async def poll() -> None:
        while not condition():
            await pilot.pause(0.05)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_the_send_dialog_preview_is_cleaned_by_the_spare_the_picker_asked_for(
    tmp_path: Path,
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(demo_photo((320, 240)))
    # Not warmed by itself: only the picker opening asks for the spare here.
    service = ChatService(ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"))
    app = offline_app()
    try:
        async with app.run_test(size=(110, 50)) as pilot:
            app.service = service
            chat = ChatScreen(
                paired=paired_event(),
                my_label="alice",
                prepare_image=app._prepare_image,
                start_dir=tmp_path,
            )
            await app.push_screen(chat)
            await pilot.pause()
            assert not worker_children()
            chat.action_send_image()  # the file picker opens: a photo may come
            await _until(pilot, lambda: isinstance(app.screen, FilePicker), "the picker")
            await _until(pilot, lambda: len(worker_children()) == 1, "a spare while choosing")
            assert "cv2" in (await service._send_spare.ready())["modules"]
            (spare,) = worker_children()
            await pilot.press("escape")
            await pilot.pause()
            chat.open_send_dialog(photo)
            await _until(pilot, lambda: isinstance(app.screen, SendDialog), "the dialog")
            dialog = app.screen
            assert isinstance(dialog, SendDialog)
            await _until(pilot, lambda: dialog.prepared is not None, "the preview", 60)
            assert dialog.prepared.width == 320
            assert spare not in worker_children()  # the spare cleaned the preview
    finally:
        await service.close()
    assert not worker_children()
