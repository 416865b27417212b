"""Real failures read in Japanese in the TUI under ``language="ja"`` (issue 16 §2).

A photo that is not an image, through the real sanitiser in the send dialog, and a
wrong code between two real apps on loopback with the embedded mailbox. The send
dialog used to show the core's English reason inside the Japanese frame.
"""

from __future__ import annotations

import asyncio
import re

from p2pchat.i18n import set_language
from p2pchat.tui.app import make_app
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.send_dialog import SendDialog

from .helpers import loopback_app, real_prepare, text_of
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
