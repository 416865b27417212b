"""Regressions found driving the real binary from a keyboard in tmux (test_tmux_smoke.py).

- ``p2pchat join`` without $P2PCHAT_CODE left the focus on "New invite": typed
  code went nowhere.
- The send dialog had no key to send: the Send button was several Tabs away.
- On a 24- or 32-row terminal the send dialog's report and buttons were below
  the bottom of the screen (the preview kept its 16 rows); now the middle
  scrolls, the preview shrinks and the buttons stay put.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Input

from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult

from .helpers import GPS_PHOTO, real_prepare
from .test_offline import offline_app


async def test_join_mode_takes_typed_code_without_clicking():
    app = offline_app(start="join")
    async with app.run_test() as pilot:
        await pilot.pause()
        field = app.screen.query_one("#join-code", Input)
        assert field.has_focus
        await pilot.press(*"7-aardvark")
        assert field.value == "7-aardvark"


async def _open_prepared_dialog(app, pilot) -> tuple[SendDialog, list[SendDialogResult | None]]:
    results: list[SendDialogResult | None] = []
    dialog = SendDialog(GPS_PHOTO, real_prepare)
    await app.push_screen(dialog, results.append)

    async def prepared() -> None:
        while dialog.prepared is None:
            await pilot.pause(0.05)

    await asyncio.wait_for(prepared(), 30)
    await pilot.pause()
    return dialog, results


async def test_ctrl_s_sends_from_the_dialog():
    app = offline_app()
    async with app.run_test() as pilot:
        dialog, results = await _open_prepared_dialog(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(results) == 1 and results[0] is not None
        assert results[0].prepared is dialog.prepared
        assert app.screen is not dialog


async def test_ctrl_s_before_the_report_does_nothing():
    app = offline_app()
    async with app.run_test() as pilot:
        results: list[SendDialogResult | None] = []

        async def never_ready(data: bytes, original_size: bool) -> object:
            await asyncio.Event().wait()

        dialog = SendDialog(GPS_PHOTO, never_ready)
        await app.push_screen(dialog, results.append)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and results == []


@pytest.mark.parametrize("size", [(80, 24), (110, 32)])
async def test_send_dialog_report_and_buttons_fit_small_terminals(size):
    _, height = size
    app = offline_app()
    async with app.run_test(size=size) as pilot:
        dialog, _ = await _open_prepared_dialog(app, pilot)
        box = dialog.query_one("#send-box").content_region
        for selector in ("#send-report", "#send", "#cancel"):
            region = dialog.query_one(selector).region
            assert region.height > 0, selector
            assert region.bottom <= box.bottom and box.bottom <= height, selector
