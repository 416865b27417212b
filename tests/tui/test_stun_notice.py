"""Issue 18 in the app: the first-run STUN notice, the `transit` path, the no-path message.

The notice appears once, before anything reaches the network, says what the STUN
server learns, and can turn STUN off for this run and in the settings file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from p2pchat.i18n import set_language
from p2pchat.net.rtc import IceSettings
from p2pchat.service import NoPathFound, ServiceConfig
from p2pchat.service import events as ev
from p2pchat.store import settings as store
from p2pchat.tui.app import make_app
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.confirm import ConfirmDialog
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.widgets.status_bar import StatusBar

from .helpers import paired_event, real_prepare, text_of

LOCAL_STUN = "stun:127.0.0.1:3478"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path))
    return tmp_path


def _refuse_service() -> object:
    raise AssertionError("no service may be created in this test")


def app_with(settings: store.Settings, stun: tuple[str, ...] = (LOCAL_STUN,)):  # type: ignore[no-untyped-def]
    config = ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1", ice=IceSettings(stun_urls=stun))
    # The display-name question (asked after this notice) is tested on its own.
    settings = dataclasses.replace(settings, display_name_asked=True)
    return make_app(config, service_factory=_refuse_service, settings=settings, language="en")


@pytest.mark.parametrize("turn_off", [True, False])
async def test_first_run_says_what_stun_learns_and_can_turn_it_off(
    config_dir: Path, turn_off: bool
) -> None:
    app = app_with(store.Settings(language="en"))
    async with app.run_test() as pilot:
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        text = text_of(dialog.query_one(".dialog-text"))
        assert "127.0.0.1:3478" in text and "public IP address" in text
        assert "transit relay" in text
        await pilot.click("#confirm" if turn_off else "#confirm-cancel")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    saved = store.load()
    assert saved.stun_notice_shown is True
    assert saved.stun_urls == (() if turn_off else store.DEFAULT_STUN_URLS)
    assert app.config.ice.stun_urls == (() if turn_off else (LOCAL_STUN,))


async def test_the_notice_is_shown_once(config_dir: Path) -> None:
    app = app_with(store.Settings(stun_notice_shown=True))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_without_stun_there_is_nothing_to_disclose(config_dir: Path) -> None:
    app = app_with(store.Settings(stun_urls=()), stun=())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
    assert not (config_dir / "settings.toml").exists()


async def test_the_status_bar_names_the_transit_path(config_dir: Path) -> None:
    app = app_with(store.Settings(stun_notice_shown=True))
    async with app.run_test() as pilot:
        paired = dataclasses.replace(paired_event(), connection="transit")
        chat = ChatScreen(paired=paired, my_label="alice", prepare_image=real_prepare)
        await app.push_screen(chat)
        await pilot.pause()
        assert "Connected (via the transit relay)" in text_of(chat.query_one(StatusBar))


@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_path_says_which_step_failed_in_both_languages(language: str) -> None:
    error = NoPathFound(
        stun="none",
        seconds=20,
        relay="tcp:127.0.0.1:4001",
        relay_error="The transit relay tcp:127.0.0.1:4001 could not be reached (refused).",
    )
    try:
        set_language(language)
        text = describe_error(error)
    finally:
        set_language("en")
    assert "tcp:127.0.0.1:4001" in text and "20" in text
    if language == "en":
        assert "the STUN server gave no public address" in text
        assert "mailbox worked" in text and "another network" in text
    else:
        assert "STUN サーバーから公開アドレスが得られませんでした" in text
        assert "別のネットワーク" in text
    assert str(error).startswith("The mailbox worked")


def test_the_paired_event_can_say_transit() -> None:
    assert dataclasses.replace(paired_event(), connection="transit").connection == "transit"
    assert ev.ConnectionChanged(state="connected", connection="transit").connection == "transit"
