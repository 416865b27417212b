"""The send dialog fixes what the picture shows: keys for faces, text, a box, a resolution."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from p2pchat.i18n import set_language
from p2pchat.media.content_scan import Box, scan
from p2pchat.tui.app import make_app
from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult
from p2pchat.tui.widgets.fix_box import SendFixes, draw_box
from tests.tui.helpers import real_prepare, text_of
from tests.tui.test_offline import ALICE_FINGERPRINT, _refuse_service, offline_app

DATA = Path(__file__).resolve().parents[1] / "data"


def photo(name: str) -> bytes:
    image = Image.open(DATA / name).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


async def wait_prepared(dialog: SendDialog, pilot) -> None:
    async def ready() -> None:
        while dialog.prepared is None:
            await pilot.pause(0.05)

    await asyncio.wait_for(ready(), 60)
    await pilot.pause()


async def open_dialog(app, pilot, data: bytes) -> tuple[SendDialog, list[SendDialogResult | None]]:
    results: list[SendDialogResult | None] = []
    dialog = SendDialog(data, real_prepare)
    await app.push_screen(dialog, results.append)
    await wait_prepared(dialog, pilot)
    return dialog, results


async def test_f_blurs_every_face_and_the_report_says_so():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, results = await open_dialog(app, pilot, photo("content/synthetic-card-face.jpg"))
        shown = text_of(dialog.query_one("#send-content"))
        assert "1 face(s) visible in the picture" in shown
        assert "card or ID" in shown
        assert "profile" in text_of(dialog.query_one("#send-content-limits"))
        assert scan(Image.open(io.BytesIO(dialog.prepared.data))).faces
        await pilot.press("f")
        await wait_prepared(dialog, pilot)
        shown = text_of(dialog.query_one("#send-content"))
        assert "blurred before sending: 1 face(s)" in shown
        assert "visible in the picture" not in shown.split("blurred")[0].replace("text visible", "")
        assert scan(Image.open(io.BytesIO(dialog.prepared.data))).faces == []
        await pilot.press("ctrl+s")
        await pilot.pause()
    [result] = results
    assert result is not None
    assert scan(Image.open(io.BytesIO(result.prepared.data))).faces == []


async def test_t_blurs_the_text_of_a_receipt():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, _ = await open_dialog(app, pilot, photo("content/synthetic-receipt.jpg"))
        assert "receipt" in text_of(dialog.query_one("#send-content"))
        await pilot.press("t")
        await wait_prepared(dialog, pilot)
        shown = text_of(dialog.query_one("#send-content"))
        assert "receipt" not in shown and "line(s) of text" in shown
        assert scan(Image.open(io.BytesIO(dialog.prepared.data))).documents == []


async def test_r_lowers_the_resolution_in_turn():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, _ = await open_dialog(app, pilot, photo("content/synthetic-card-face.jpg"))
        assert max(dialog.prepared.width, dialog.prepared.height) == 1600
        await pilot.press("r")
        await wait_prepared(dialog, pilot)
        assert max(dialog.prepared.width, dialog.prepared.height) == 1024
        assert "1024×" in text_of(dialog.query_one("#send-report"))
        await pilot.press("r")
        await wait_prepared(dialog, pilot)
        assert max(dialog.prepared.width, dialog.prepared.height) == 640
        await pilot.press("r")
        await wait_prepared(dialog, pilot)
        assert max(dialog.prepared.width, dialog.prepared.height) == 1600


async def test_b_draws_a_box_moved_and_resized_by_keys_then_enter_pixelates_it():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, results = await open_dialog(app, pilot, photo("content/skimage-rocket.jpg"))
        before = Image.open(io.BytesIO(dialog.prepared.data)).convert("RGB")
        await pilot.press("b")
        await pilot.press("left", "left", "up", "shift+right")
        await pilot.pause()
        box = dialog.fixes.drawing
        assert box is not None
        assert round(box.x, 2) == 0.31 and round(box.y, 2) == 0.33 and round(box.w, 2) == 0.32
        assert dialog.prepared is not None  # nothing re-made until Enter
        await pilot.press("enter")
        await wait_prepared(dialog, pilot)
        assert dialog.fixes.boxes == (box,) and dialog.fixes.drawing is None
        after = Image.open(io.BytesIO(dialog.prepared.data)).convert("RGB")
        left, top, right, bottom = box.pixels(*after.size)
        inside = after.crop((left + 4, top + 4, right - 4, bottom - 4))
        original = before.crop((left + 4, top + 4, right - 4, bottom - 4))
        assert _detail(inside) < _detail(original) / 2
        assert "1 area(s) by hand" in text_of(dialog.query_one("#send-content"))
        # Arrows are the dialog's again once no box is being drawn; Esc cancels the dialog.
        await pilot.press("escape")
        await pilot.pause()
    assert results == [None]


async def test_escape_while_drawing_drops_the_box_not_the_dialog():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, results = await open_dialog(app, pilot, photo("content/skimage-rocket.jpg"))
        await pilot.press("b")
        await pilot.pause()
        assert dialog.fixes.drawing is not None
        await pilot.press("escape")
        await pilot.pause()
        assert dialog.fixes.drawing is None and dialog.fixes.boxes == ()
        assert app.screen is dialog and results == []


async def test_a_mouse_drag_on_the_preview_places_the_box():
    app = offline_app()
    async with app.run_test(size=(110, 50)) as pilot:
        dialog, _ = await open_dialog(app, pilot, photo("content/skimage-rocket.jpg"))
        region = dialog.query_one("#send-preview").region
        start = (region.x + region.width // 4, region.y + region.height // 4)
        end = (region.x + region.width // 2, region.y + region.height // 2)
        await pilot.mouse_down("#send-preview", offset=(start[0] - region.x, start[1] - region.y))
        await pilot.mouse_up("#send-preview", offset=(end[0] - region.x, end[1] - region.y))
        await pilot.pause()
        box = dialog.fixes.drawing
        assert box is not None
        assert 0.2 <= box.x <= 0.3 and 0.2 <= box.y <= 0.3
        assert 0.2 <= box.w <= 0.3 and 0.2 <= box.h <= 0.3


async def test_the_picture_check_speaks_japanese():
    try:
        app = make_app(
            service_factory=_refuse_service,
            fingerprint=ALICE_FINGERPRINT,
            language="ja",
            image_renderer="halfcell",
        )
        async with app.run_test(size=(110, 50)) as pilot:
            dialog, _ = await open_dialog(app, pilot, photo("content/synthetic-card-face.jpg"))
            shown = text_of(dialog.query_one("#send-content"))
            assert "写真に顔が1人分写っています" in shown
            assert "横顔" in text_of(dialog.query_one("#send-content-limits"))
    finally:
        set_language("en")


def test_the_box_stays_inside_the_picture():
    fixes = SendFixes().start_box()
    for _ in range(100):
        fixes = fixes.move(1, 1).resize(1, 1)
    box = fixes.drawing
    assert box is not None and box.x + box.w <= 1.0 + 1e-9 and box.y + box.h <= 1.0 + 1e-9
    for _ in range(100):
        fixes = fixes.resize(-1, -1).move(-1, -1)
    box = fixes.drawing
    assert box is not None and box.x == 0.0 and box.y == 0.0 and box.w >= 0.04
    dragged = SendFixes().drag((0.9, 0.8), (0.1, 0.2)).drawing
    assert dragged is not None and round(dragged.x, 2) == 0.1 and round(dragged.w, 2) == 0.8


def test_the_box_being_drawn_is_outlined_on_the_preview():
    data = photo("content/skimage-rocket.jpg")
    marked = Image.open(io.BytesIO(draw_box(data, Box(0.1, 0.1, 0.5, 0.5)))).convert("RGB")
    left, top, _, _ = Box(0.1, 0.1, 0.5, 0.5).pixels(*marked.size)
    assert marked.getpixel((left + 1, top + 20)) == (255, 220, 0)


def _detail(image: Image.Image) -> float:
    """Mean absolute difference between neighbouring pixels: what a mosaic flattens."""
    grey = image.convert("L")
    pixels = list(grey.getdata())
    width = grey.width
    diffs = [abs(pixels[i] - pixels[i + 1]) for i in range(len(pixels) - 1) if (i + 1) % width]
    return sum(diffs) / max(1, len(diffs))
