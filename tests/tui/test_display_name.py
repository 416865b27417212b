"""People have names (issue 16 §1): the app asks once for the name the other person
sees, keeps it as ``display_name`` in the settings, the other side shows it and pins
the contact under it, ``/name`` changes it, and "last seen" follows the chat."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from p2pchat.service import events as ev
from p2pchat.store.settings import Settings, load_settings, save_settings
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.confirm import NameDialog
from p2pchat.tui.widgets.message_list import MessageList

from .helpers import ALICE_KEY, BOB_KEY, SAFETY_NUMBER, loopback_app, paired_event, real_prepare
from .test_contacts_ui import (
    SHARED_PSK,
    book_for,
    enter_code,
    invite_code,
    running,
    texts,
    until,
)


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(directory))
    return directory


def fresh_settings() -> Settings:
    return Settings(stun_urls=(), transit_relay="", stun_notice_shown=True)


async def test_first_run_asks_for_the_name_and_keeps_it(config_dir: Path) -> None:
    save_settings(fresh_settings())
    app = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "", settings=load_settings())
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, NameDialog), "the name question")
        await pilot.press(*"Alice", "enter")
        await until(lambda: not isinstance(app.screen, NameDialog), "answered")
    saved = load_settings()
    assert saved.display_name == "Alice" and saved.display_name_asked
    assert app.config.label == "Alice" and app.my_label == "Alice"
    # Asked once: the next start does not ask again.
    again = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "", settings=load_settings())
    async with again.run_test() as pilot:
        await pilot.pause(0.3)
        assert not isinstance(again.screen, NameDialog)
        assert again.config.label == "Alice"


async def test_skipping_the_name_is_remembered(config_dir: Path) -> None:
    save_settings(fresh_settings())
    app = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "", settings=load_settings())
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, NameDialog), "the name question")
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, NameDialog), "skipped")
    saved = load_settings()
    assert saved.display_name == "" and saved.display_name_asked


async def test_the_other_side_shows_and_pins_the_display_name(
    embedded_mailbox, tmp_path, config_dir: Path
) -> None:
    save_settings(
        Settings(
            stun_urls=(),
            transit_relay="",
            stun_notice_shown=True,
            display_name="Alice Liddell",
            display_name_asked=True,
        )
    )
    from p2pchat.service.contact_guard import ContactGuard

    bob_book = book_for(tmp_path, "bob")
    alice = loopback_app(embedded_mailbox, ALICE_KEY, "", settings=load_settings())
    bob = loopback_app(embedded_mailbox, BOB_KEY, "bob", peer_check=ContactGuard(bob_book))
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        code = await invite_code(alice, alice_pilot)
        await enter_code(bob, bob_pilot, code)
        await until(lambda: isinstance(bob.screen, ChatScreen), "bob chatting")
        await until(lambda: isinstance(alice.screen, ChatScreen), "alice chatting")
        assert bob.screen.peer_label == "Alice Liddell"
        await alice_pilot.press(*"hello", "enter")
        await until(lambda: "hello" in texts(bob), "bob receives")
    bob_book.reload()
    assert bob_book.get("Alice Liddell") is not None


async def test_slash_name_changes_it_for_the_next_conversation(config_dir: Path) -> None:
    save_settings(fresh_settings())
    app = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "alice", settings=load_settings())
    async with app.run_test() as pilot:
        chat = ChatScreen(paired=paired_event(), my_label="alice", prepare_image=real_prepare)
        await app.push_screen(chat)
        await pilot.pause()
        chat.query_one("#composer").insert("/name Alice L.")
        await pilot.press("enter")
        await pilot.pause()
        notices = [str(n.render()) for n in chat.query_one(MessageList).query(".notice")]
        assert any("Alice L." in n for n in notices)
    assert load_settings().display_name == "Alice L."
    assert app.config.label == "Alice L."


async def test_last_seen_follows_the_conversation(config_dir: Path, tmp_path: Path) -> None:
    from p2pchat.service.contact_guard import ContactGuard

    book = book_for(tmp_path, "alice")
    long_ago = time.time() - 86_400
    contact = book.pin("bob", bytes(BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK, long_ago)
    app = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "alice", peer_check=ContactGuard(book))
    async with app.run_test() as pilot:
        chat = ChatScreen(
            paired=paired_event(), my_label="alice", prepare_image=real_prepare, contact=contact
        )
        await app.push_screen(chat)
        await pilot.pause()
        app.service = object()  # the event below is for the running session
        from p2pchat.tui.messages import ServiceEventPosted

        app.post_message(ServiceEventPosted(app.service, ev.TextReceived("m1", "hi", time.time())))
        await pilot.pause()
        await app.workers.wait_for_complete()
        app.service = None
    book.reload()
    assert book.get("bob").last_seen > long_ago + 3600
