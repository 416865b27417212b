"""Two real apps, two real ChatServices, paired over the embedded mailbox and aiortc on 127.0.0.1.

Both apps run in this test's event loop (``run_test`` each), so everything is
real except the terminal. Waits poll the UI with a generous deadline; nothing
asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from textual.widgets import Input

from p2pchat.core.message import MessageState
from p2pchat.tui.app import P2PChatApp
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.send_dialog import SendDialog
from p2pchat.tui.widgets.message_list import ImageMessage, TextMessage

from .helpers import ALICE_KEY, BOB_KEY, GPS_PHOTO, loopback_app, text_of

DEADLINE = 30.0


async def until(condition: Callable[[], object], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), DEADLINE)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


@contextlib.asynccontextmanager
async def two_apps(url: str):
    alice = loopback_app(url, ALICE_KEY, "alice")
    bob = loopback_app(url, BOB_KEY, "bob")
    async with (
        alice.run_test(size=(100, 40)) as alice_pilot,
        bob.run_test(size=(100, 40)) as bob_pilot,
    ):
        yield alice, alice_pilot, bob, bob_pilot


async def invite_code(app: P2PChatApp, pilot) -> str:
    await pilot.press("ctrl+n")
    await until(lambda: isinstance(app.screen, InviteScreen) and app.screen.code, "code shown")
    return app.screen.code


async def enter_code(app: P2PChatApp, pilot, code: str) -> None:
    # Typing key by key is covered offline (completion); here only the pairing matters.
    await pilot.click("#join-code")
    app.screen.query_one("#join-code", Input).value = code
    await pilot.press("enter")


async def pair(alice, alice_pilot, bob, bob_pilot) -> None:
    code = await invite_code(alice, alice_pilot)
    await enter_code(bob, bob_pilot, code)
    await until(lambda: isinstance(alice.screen, ChatScreen), "alice chatting")
    await until(lambda: isinstance(bob.screen, ChatScreen), "bob chatting")


def texts(app: P2PChatApp) -> list[str]:
    return [text_of(m.query_one(".message-body")) for m in app.screen.query(TextMessage)]


def notices(app: P2PChatApp) -> list[str]:
    return [text_of(n) for n in app.screen.query(".notice")]


async def test_text_typed_in_one_app_appears_in_the_other(embedded_mailbox):
    async with two_apps(embedded_mailbox) as (alice, alice_pilot, bob, bob_pilot):
        await pair(alice, alice_pilot, bob, bob_pilot)
        assert alice.screen.paired.safety_number == bob.screen.paired.safety_number
        await alice_pilot.press(*"hello [b]bob[/b]")
        typing = bob.screen.query_one("#typing")
        await until(lambda: text_of(typing) == "alice is typing…", "bob sees alice typing")
        await alice_pilot.press("enter")
        await until(lambda: "hello [b]bob[/b]" in texts(bob), "bob receives the text")
        [sent] = alice.screen.query(TextMessage)
        await until(lambda: sent.state is MessageState.DELIVERED, "alice sees it delivered")
        header = text_of(bob.screen.query_one(TextMessage).query_one(".message-header"))
        assert header.startswith("alice")
        await bob_pilot.press(*"hi alice", "enter")
        await until(lambda: "hi alice" in texts(alice), "alice receives the reply")
        await alice_pilot.press("ctrl+q")
        await until(lambda: any("left" in n for n in notices(bob)), "bob told alice left")


async def test_image_sent_from_one_app_is_shown_in_the_other(embedded_mailbox):
    async with two_apps(embedded_mailbox) as (alice, alice_pilot, bob, bob_pilot):
        await pair(alice, alice_pilot, bob, bob_pilot)
        alice.screen.query_one("#composer").load_text(f"/send {GPS_PHOTO}")
        await alice_pilot.press("enter")
        await until(lambda: isinstance(alice.screen, SendDialog), "send dialog open")
        dialog = alice.screen
        report = dialog.query_one("#send-report")
        # `prepared` is set before the report is drawn: wait for what the person reads.
        await until(lambda: "GPS location" in text_of(report), "image sanitised, report shown")
        assert dialog.prepared is not None
        await alice_pilot.click("#send")
        await until(lambda: bob.screen.query(ImageMessage), "bob receives the image")
        received = bob.screen.query_one(ImageMessage)
        await until(lambda: received.query("HalfcellImage"), "bob's image decoded")
        assert received.query_one(".message-report")
        [sent] = alice.screen.query(ImageMessage)
        assert "GPS location" in text_of(sent.query_one(".message-report"))
        await until(lambda: sent.state is MessageState.DELIVERED, "alice sees the image delivered")
        assert not alice.screen.query("TransferBar")


async def test_wrong_code_shows_an_error_and_returns_home(embedded_mailbox):
    async with two_apps(embedded_mailbox) as (alice, alice_pilot, bob, bob_pilot):
        code = await invite_code(alice, alice_pilot)
        nameplate, first, second, third = code.split("-")
        wrong_first = "aardvark" if first != "aardvark" else "absurd"
        await enter_code(bob, bob_pilot, "-".join((nameplate, wrong_first, second, third)))
        await until(
            lambda: bob.screen.query_one("#join-error").has_class("-visible"), "bob sees an error"
        )
        assert isinstance(bob.screen, HomeScreen)
        assert "code was wrong" in text_of(bob.screen.query_one("#join-error"))
        await until(lambda: isinstance(alice.screen, HomeScreen), "alice back home")
        assert text_of(alice.screen.query_one("#join-error"))
        assert bob.service is None and alice.service is None


async def test_peer_quitting_shows_peer_left(embedded_mailbox):
    async with two_apps(embedded_mailbox) as (alice, alice_pilot, bob, bob_pilot):
        await pair(alice, alice_pilot, bob, bob_pilot)
        await bob_pilot.press(*"/quit", "enter")
        await until(
            lambda: any("bob left the conversation" in n for n in notices(alice)), "peer left"
        )
        assert alice.screen.ended
