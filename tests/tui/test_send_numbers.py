"""The send dialog tells how many digits a long number has, never the number, and `t` blurs it."""

from __future__ import annotations

import io

from PIL import Image
from textual.widgets import Static

from p2pchat.media import content_ocr
from p2pchat.media.content_scan import scan
from tests.media.test_content_ocr import leaks, needs_reader
from tests.tui.helpers import text_of
from tests.tui.test_offline import offline_app
from tests.tui.test_send_fixes import open_dialog, photo, wait_prepared


@needs_reader
async def test_a_card_number_is_counted_not_shown_and_t_blurs_it(monkeypatch):
    monkeypatch.setattr(content_ocr, "BUDGET_CPU_S", 30.0)  # what is read, not how fast
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, _ = await open_dialog(app, pilot, photo("content/synthetic-card-face.jpg"))
        shown = text_of(dialog.query_one("#send-content"))
        assert "16, 11 digits can be read" in shown
        everything = " ".join(text_of(widget) for widget in dialog.query(Static))
        assert "16, 11 digits" in everything
        assert leaks(everything) == []
        await pilot.press("t")
        await wait_prepared(dialog, pilot)
        shown = text_of(dialog.query_one("#send-content"))
        assert "digits can be read" not in shown and "line(s) of text" in shown
        assert scan(Image.open(io.BytesIO(dialog.prepared.data))).numbers == []
