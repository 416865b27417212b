"""SVG snapshots at 80x24, in English and in Japanese (issue 16): the home screen, a chat
with a photo and its privacy report, the send dialog, the help and the demo.

Each test imports the TUI afresh in its language (``fresh_tui``), as ``p2pchat --lang
ja`` does, so the footer's key labels are Japanese too. Update after an intended change
with ``pytest tests/tui/test_snapshots_languages.py --snapshot-update`` and look at the
report (or the SVGs) before committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from p2pchat.media.inspect import inspect_image
from p2pchat.service import events as ev

from .fresh_tui import fresh_tui
from .helpers import ALICE_FINGERPRINT, GPS_PHOTO, paired_event, real_prepare

SIZE = (80, 24)
LANGUAGES = ["en", "ja"]


class Tui:
    """The freshly imported TUI of one test."""

    def __init__(self, load: Any) -> None:
        self.load = load

    def __getattr__(self, dotted: str) -> ModuleType:
        return self.load(f"p2pchat.tui.{dotted}")

    def app(self, language: str) -> Any:
        return self.load("p2pchat.tui.app").make_app(
            service_factory=_no_service,
            fingerprint=ALICE_FINGERPRINT,
            language=language,
            image_renderer="halfcell",
        )


def _no_service() -> object:
    raise AssertionError("no service may be created in this test")


@pytest.fixture(params=LANGUAGES)
def tui(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tui]:
    with fresh_tui(request.param) as load:
        monkeypatch.setattr(load("p2pchat.tui.widgets.message_list"), "_clock", lambda _: "12:34")
        fresh = Tui(load)
        fresh.language = request.param  # type: ignore[attr-defined]
        yield fresh


async def settle(pilot: Any) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    # A blinking cursor would be caught on or off at random.
    for field in pilot.app.screen.query("TextArea, Input"):
        field.cursor_blink = False
    await pilot.pause()


def test_home(snap_compare: Any, tui: Any) -> None:
    assert snap_compare(tui.app(tui.language), terminal_size=SIZE, run_before=settle)


async def open_chat_with_photo(tui: Any, pilot: Any) -> Any:
    """A chat where Bob sent a photo; the report names what the receiver removed."""
    chat_module = tui.load("p2pchat.tui.screens.chat")
    chat = chat_module.ChatScreen(
        paired=paired_event(), my_label="alice", prepare_image=real_prepare
    )
    await pilot.app.push_screen(chat)
    await pilot.pause()
    prepared = await real_prepare(GPS_PHOTO.read_bytes(), False)
    findings = tuple(inspect_image(GPS_PHOTO.read_bytes()).findings)
    chat.apply_event(ev.TextReceived("t1", "look at this", 0.0))
    chat.apply_event(
        ev.ImageReceived(
            "i1",
            prepared.data,
            prepared.mime,
            prepared.width,
            prepared.height,
            view_once=False,
            view_seconds=10,
            removed=tuple(f.message for f in findings),
            findings=findings,
        )
    )
    await settle(pilot)
    return chat


def test_chat_with_a_photo_and_its_report(snap_compare: Any, tui: Any) -> None:
    async def run_before(pilot: Any) -> None:
        chat = await open_chat_with_photo(tui, pilot)
        # Scrolled to the end: the photo and its report are what shows.
        chat.query_one(tui.load("p2pchat.tui.widgets.message_list").MessageList).scroll_end(
            animate=False
        )
        await settle(pilot)

    assert snap_compare(tui.app(tui.language), terminal_size=SIZE, run_before=run_before)


def test_send_dialog(snap_compare: Any, tui: Any) -> None:
    async def run_before(pilot: Any) -> None:
        dialog = tui.load("p2pchat.tui.screens.send_dialog").SendDialog
        await pilot.app.push_screen(dialog(GPS_PHOTO, real_prepare))
        await settle(pilot)

    assert snap_compare(tui.app(tui.language), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare: Any, tui: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.app.push_screen(tui.load("p2pchat.tui.screens.help").HelpScreen())
        await settle(pilot)

    assert snap_compare(tui.app(tui.language), terminal_size=SIZE, run_before=run_before)


def test_command_palette(snap_compare: Any, tui: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await open_chat_with_photo(tui, pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)

    assert snap_compare(tui.app(tui.language), terminal_size=SIZE, run_before=run_before)


def test_demo_first_lesson(snap_compare: Any, tui: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.app.wait_step(0)
        await settle(pilot)

    demo = tui.load("p2pchat.tui.demo.demo_app").make_demo_app(tui.language, renderer="halfcell")
    assert snap_compare(demo, terminal_size=SIZE, run_before=run_before)
