"""SVG snapshots of the main screens (pytest-textual-snapshot), images drawn as half cells.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import pytest

from p2pchat.service import events as ev
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.send_dialog import SendDialog
from p2pchat.tui.screens.verify import VerifyScreen

from .helpers import GPS_PHOTO, SAFETY_NUMBER, paired_event, real_prepare
from .test_offline import offline_app

SIZE = (100, 40)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("p2pchat.tui.widgets.message_list._clock", lambda _: "12:34")


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_home(snap_compare):
    assert snap_compare(offline_app(), terminal_size=SIZE)


def test_verify_screen(snap_compare):
    async def open_verify(pilot):
        await pilot.app.push_screen(VerifyScreen(SAFETY_NUMBER, key_changed=True))
        await pilot.pause()

    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=open_verify)


def test_send_dialog_with_report(snap_compare):
    async def open_dialog(pilot):
        await pilot.app.push_screen(SendDialog(GPS_PHOTO, real_prepare))
        await settle(pilot)

    assert snap_compare(offline_app(), terminal_size=(100, 50), run_before=open_dialog)


def test_chat_with_an_image(snap_compare):
    async def chat_with_image(pilot):
        prepared = await real_prepare(GPS_PHOTO.read_bytes(), False)
        chat = ChatScreen(paired=paired_event(), my_label="alice", prepare_image=real_prepare)
        await pilot.app.push_screen(chat)
        await pilot.pause()
        chat.apply_event(ev.TextReceived("t1", "look at this [b]photo[/b]", 0.0))
        chat.apply_event(ev.RoundTrip(0.004))
        chat.apply_event(
            ev.ImageReceived(
                "i1",
                prepared.data,
                prepared.mime,
                prepared.width,
                prepared.height,
                view_once=False,
                view_seconds=10,
                removed=("GPS location", "camera NIKON"),
            )
        )
        await settle(pilot)

    assert snap_compare(offline_app(), terminal_size=SIZE, run_before=chat_with_image)
