"""Real failures read in Japanese in the TUI under ``language="ja"`` (issue 16 §2).

A photo that is not an image, through the real sanitiser in the send dialog; a
contact renamed to a name already taken, in the real contact book; and a wrong code
between two real apps on loopback with the embedded mailbox. The first two used to
show the store's or the core's English inside the Japanese screen.
"""

from __future__ import annotations

import asyncio
import re

from p2pchat.i18n import set_language
from p2pchat.tui.app import make_app
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.send_dialog import SendDialog
from p2pchat.tui.widgets.contact_list import ContactList

from .helpers import BOB_KEY as CAROL_KEY
from .helpers import SAFETY_NUMBER, loopback_app, real_prepare, text_of
from .test_contacts_ui import NEW_BOB_KEY, app_for, book_for
from .test_loopback import ALICE_KEY, BOB_KEY, enter_code, invite_code, until
from .test_offline import ALICE_FINGERPRINT, _refuse_service

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{3,} [A-Za-z]{3,}")


async def test_a_photo_that_is_not_an_image_reads_in_japanese() -> None:
    app = make_app(
        service_factory=_refuse_service,
        fingerprint=ALICE_FINGERPRINT,
        language="ja",
        image_renderer="halfcell",
    )
    try:
        async with app.run_test(size=(110, 50)) as pilot:
            dialog = SendDialog(b"\xff\xd8\xff\xe0 not really a picture" * 10, real_prepare)
            await app.push_screen(dialog)
            report = dialog.query_one("#send-report")

            async def refused() -> None:
                while not report.has_class("-error"):
                    await pilot.pause(0.05)

            await asyncio.wait_for(refused(), 60)
            shown = text_of(report)
            assert "この写真は送信できません" in shown and "画像を拒否しました" in shown, shown
            assert not ENGLISH_WORDS.search(shown), shown
    finally:
        set_language("en")


async def test_a_wrong_code_reads_in_japanese_on_both_sides(embedded_mailbox: str) -> None:
    alice = loopback_app(embedded_mailbox, ALICE_KEY, "alice", language="ja")
    bob = loopback_app(embedded_mailbox, BOB_KEY, "bob", language="ja")
    try:
        async with (
            alice.run_test(size=(100, 40)) as alice_pilot,
            bob.run_test(size=(100, 40)) as bob_pilot,
        ):
            code = await invite_code(alice, alice_pilot)
            nameplate, first, second, third = code.split("-")
            wrong_first = "aardvark" if first != "aardvark" else "absurd"
            await enter_code(bob, bob_pilot, "-".join((nameplate, wrong_first, second, third)))
            await until(
                lambda: bob.screen.query_one("#join-error").has_class("-visible"), "bob's error"
            )
            await until(lambda: isinstance(alice.screen, HomeScreen), "alice back home")
            await until(lambda: text_of(alice.screen.query_one("#join-error")), "alice's error")
            for app in (alice, bob):
                shown = text_of(app.screen.query_one("#join-error"))
                assert JAPANESE.search(shown) and not ENGLISH_WORDS.search(shown), shown
    finally:
        set_language("en")


async def test_a_name_already_taken_reads_in_japanese(tmp_path) -> None:
    book = book_for(tmp_path, "alice")
    book.pin("bob", bytes(NEW_BOB_KEY.verify_key), SAFETY_NUMBER, bytes(32))
    book.pin("carol", bytes(CAROL_KEY.verify_key), SAFETY_NUMBER, bytes(range(32)))
    app = app_for("ws://127.0.0.1:9/v1", ALICE_KEY, "alice", book, language="ja")
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            app.screen.query_one(ContactList).focus()
            await pilot.pause()
            await pilot.press("r")
            await until(lambda: app.focused is app.screen.query_one("#name-input"), "rename")
            app.screen.query_one("#name-input").value = "carol"
            await pilot.press("enter")
            error = app.screen.query_one("#join-error")
            await until(lambda: error.has_class("-visible"), "the refusal")
            shown = text_of(error)
            assert "carol という名前の連絡先はすでにあります" in shown, shown
            assert book.get("bob") is not None
    finally:
        set_language("en")
