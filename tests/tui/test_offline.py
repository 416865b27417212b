"""TUI tests that need no network: home, code entry, verify, chat rendering, composer."""

from __future__ import annotations

import time

from textual.widgets import Input, ProgressBar, Static

from p2pchat.service import events as ev
from p2pchat.tui.app import make_app
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.verify import VerifyScreen, safety_groups
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.message_list import MessageList, TextMessage
from p2pchat.tui.widgets.status_bar import StatusBar
from p2pchat.tui.widgets.transfer_bar import TransferBar

from .helpers import ALICE_FINGERPRINT, SAFETY_NUMBER, paired_event, real_prepare, text_of


def _refuse_service() -> object:
    raise AssertionError("no service may be created in this test")


def offline_app(**kwargs: object):
    return make_app(
        service_factory=_refuse_service,
        fingerprint=ALICE_FINGERPRINT,
        image_renderer="halfcell",
        **{"language": "en", **kwargs},
    )


async def open_chat(app, pilot, **kwargs) -> ChatScreen:
    chat = ChatScreen(paired=paired_event(), my_label="alice", prepare_image=real_prepare, **kwargs)
    await app.push_screen(chat)
    await pilot.pause()
    return chat


async def test_home_shows_fingerprint_and_actions():
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert text_of(app.screen.query_one("#fingerprint")) == ALICE_FINGERPRINT
        assert app.screen.query_one("#new-invite").label.plain == "New invite"


async def test_code_field_suggests_words_as_you_type():
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.click("#join-code")
        await pilot.press(*"7-drumb")
        await app.workers.wait_for_complete()
        await pilot.pause()
        field = app.screen.query_one("#join-code", Input)
        assert field._suggestion == "7-drumbeat-"
        await pilot.press("right")  # accepts the suggestion
        await pilot.press(*"adr")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert field._suggestion == "7-drumbeat-adroitness-"


async def test_invalid_code_shows_an_error_and_stays_home():
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.click("#join-code")
        await pilot.press(*"7-drumbeat-bananas-absurd", "enter")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        error = app.screen.query_one("#join-error", Static)
        assert error.has_class("-visible")
        assert "bananas" in text_of(error)
        # Typing again clears the error.
        await pilot.press("backspace")
        await pilot.pause()
        assert not error.has_class("-visible")


async def test_join_code_from_the_command_line_is_checked_too():
    app = offline_app(start="join", code="not a code")
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#join-error").has_class("-visible")


def test_safety_groups_are_twelve_groups_of_five():
    groups = safety_groups(SAFETY_NUMBER)
    assert len(groups) == 12
    assert all(len(group) == 5 and group.isdigit() for group in groups)
    assert "".join(groups) == SAFETY_NUMBER


async def test_verify_screen_shows_groups_and_marks_verified():
    app = offline_app()
    results: list[bool] = []
    async with app.run_test() as pilot:
        await app.push_screen(VerifyScreen(SAFETY_NUMBER), results.append)
        await pilot.pause()
        shown = [text_of(g) for g in app.screen.query(".safety-group")]
        assert shown == safety_groups(SAFETY_NUMBER)
        assert not app.screen.query("#verify-key-changed")
        await pilot.click("#mark-verified")
        await pilot.pause()
    assert results == [True]


async def test_verify_screen_warns_about_a_key_change():
    app = offline_app()
    async with app.run_test() as pilot:
        await app.push_screen(VerifyScreen(SAFETY_NUMBER, key_changed=True))
        await pilot.pause()
        assert "key has changed" in text_of(app.screen.query_one("#verify-key-changed"))


async def test_peer_text_is_shown_literally_never_as_markup_or_escapes():
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        hostile = "[bold]x[/] \x1b[31mred\x1b[0m [link=file:///etc]y[/link] \x1b]0;title\x07ok"
        chat.apply_event(ev.TextReceived("m1", hostile, time.time()))
        await pilot.pause()
        item = chat.query_one(MessageList).get("m1")
        assert isinstance(item, TextMessage)
        body = text_of(item.query_one(".message-body"))
        assert "[bold]x[/]" in body
        assert "[link=file:///etc]y[/link]" in body
        assert "red" in body and "ok" in body
        assert "\x1b" not in body and "title" not in body
        header = text_of(item.query_one(".message-header"))
        assert header.startswith("bob") and "received" in header


async def test_peer_label_with_markup_is_literal():
    app = offline_app()
    async with app.run_test() as pilot:
        chat = ChatScreen(
            paired=paired_event("[red]eve\x1b[2J"), my_label="alice", prepare_image=real_prepare
        )
        await app.push_screen(chat)
        await pilot.pause()
        chat.apply_event(ev.TextReceived("m1", "hi", time.time()))
        await pilot.pause()
        header = text_of(chat.query_one(MessageList).get("m1").query_one(".message-header"))
        assert header.startswith("[red]eve")
        assert "\x1b" not in header


async def test_composer_enter_sends_ctrl_j_breaks_line_and_up_recalls():
    app = offline_app()
    sent: list[ChatScreen.SendText] = []
    async with app.run_test(
        message_hook=lambda m: isinstance(m, ChatScreen.SendText) and sent.append(m)
    ) as pilot:
        chat = await open_chat(app, pilot)
        composer = chat.query_one(Composer)
        assert composer.has_focus
        await pilot.press(*"hello", "ctrl+j", *"world", "enter")
        await pilot.pause()
        assert [m.text for m in sent] == ["hello\nworld"]
        assert composer.text == ""
        item = chat.query_one(MessageList).get(sent[0].local_id)
        assert text_of(item.query_one(".message-body")) == "hello\nworld"
        assert "sending" in text_of(item.query_one(".message-header"))
        await pilot.press("up")
        assert composer.text == "hello\nworld"
        await pilot.press("down")
        assert composer.text == ""


async def test_delivery_states_follow_the_service():
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        messages = chat.query_one(MessageList)
        messages.add_text("local-x", "out", "alice", "hi")
        await pilot.pause()
        chat.message_sent("local-x", "m7")
        await pilot.pause()
        assert "sent" in text_of(messages.get("m7").query_one(".message-header"))
        chat.apply_event(ev.Delivered("m7"))
        await pilot.pause()
        assert "delivered" in text_of(messages.get("m7").query_one(".message-header"))


async def test_status_bar_and_transfer_bars_follow_events():
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        status = chat.query_one(StatusBar)
        assert "Connected (direct)" in text_of(status)
        assert "not verified" in text_of(status)
        chat.apply_event(ev.RoundTrip(0.012))
        chat.apply_event(ev.TransferStarted("img1", "in", 2_000_000, False))
        await pilot.pause()
        chat.apply_event(ev.TransferProgress("img1", "in", 500_000, 2_000_000, 1_500_000.0))
        await pilot.pause()
        assert "RTT 12 ms" in text_of(status)
        bar = chat.query_one(TransferBar)
        assert bar.query_one(ProgressBar).progress == 500_000
        assert text_of(bar.query_one(".transfer-speed")) == "1.5 MB/s"
        assert chat.query_one("#transfers").has_class("-active")
        chat.apply_event(ev.TransferCancelled("img1", "in", by_peer=True))
        await pilot.pause()
        assert not chat.query(TransferBar)
        chat.apply_event(ev.ConnectionChanged("lost"))
        await pilot.pause()
        assert "Connection lost" in text_of(status)


async def test_cancel_binding_asks_to_cancel_the_newest_transfer():
    app = offline_app()
    asked: list[str] = []
    hook = lambda m: isinstance(m, ChatScreen.CancelTransfer) and asked.append(m.message_id)  # noqa: E731
    async with app.run_test(message_hook=hook) as pilot:
        chat = await open_chat(app, pilot)
        chat.apply_event(ev.TransferStarted("a", "out", 10, False))
        chat.apply_event(ev.TransferStarted("b", "in", 10, False))
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        assert asked == ["b"]


async def test_peer_left_is_announced_and_sending_stops():
    app = offline_app()
    sent: list[object] = []
    hook = lambda m: isinstance(m, ChatScreen.SendText) and sent.append(m)  # noqa: E731
    async with app.run_test(message_hook=hook) as pilot:
        chat = await open_chat(app, pilot)
        chat.apply_event(ev.PeerLeft("bye"))
        await pilot.pause()
        notices = [text_of(n) for n in chat.query(".notice")]
        assert any("bob left the conversation" in n for n in notices)
        await pilot.press(*"anyone?", "enter")
        await pilot.pause()
        assert sent == []


async def test_slash_help_opens_help_listing_keys():
    app = offline_app()
    async with app.run_test() as pilot:
        await open_chat(app, pilot)
        await pilot.press(*"/help", "enter")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(text_of(cell) for cell in app.screen.query("#help-text Static"))
        assert "Ctrl+O" in text and "/send PATH" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)


async def test_chat_bindings_have_ids_and_show_in_footer():
    ids = {binding.id for binding in ChatScreen.BINDINGS}
    assert {"chat.help", "chat.verify", "chat.send_image", "chat.cancel_transfer"} <= ids
    app = offline_app()
    async with app.run_test() as pilot:
        await open_chat(app, pilot)
        footer_keys = {
            b.action for (_, b, enabled, _) in app.screen.active_bindings.values() if b.show
        }
        assert {"help", "verify", "send_image", "cancel_transfer"} <= footer_keys


async def test_key_change_shows_a_banner_until_verified():
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot, key_changed=True)
        banner = chat.query_one("#key-banner")
        assert banner.display and "key has changed" in text_of(banner)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.click("#mark-verified")
        await pilot.pause()
        assert not banner.display
        assert "verified" in text_of(chat.query_one(StatusBar))
