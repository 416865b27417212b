#!/usr/bin/env python3
"""Regenerate docs/screenshot.svg: Bob's chat with Alice's GPS photo shown inline.

Two real apps with real ``ChatService``s pair over the embedded mailbox on
127.0.0.1 (``run_test()``, 110x32, half-cell images so the picture does not
depend on the terminal). Alice and Bob exchange two lines, Alice sends the
corpus photo with GPS through the send dialog, and Bob's screen, showing the
photo and what the receiver's own check found, is saved with
``App.save_screenshot()``.

    .venv/bin/python scripts/screenshot.py [--output docs/screenshot.svg]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHOTO = ROOT / "tests" / "data" / "photos" / "nikon-gps-DSCN0010.jpg"
SIZE = (110, 32)
DEADLINE = 60.0


async def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"screenshot: never happened: {what}")
        await asyncio.sleep(0.05)


async def make_screenshot(output: Path) -> Path:
    import nacl.signing
    from textual.widgets import Input

    from p2pchat.net.mailbox_server import MailboxServer
    from p2pchat.service import ServiceConfig
    from p2pchat.tui.app import P2PChatApp, make_app
    from p2pchat.tui.screens.chat import ChatScreen
    from p2pchat.tui.screens.invite import InviteScreen
    from p2pchat.tui.screens.send_dialog import SendDialog
    from p2pchat.tui.widgets.composer import Composer
    from p2pchat.tui.widgets.message_list import ImageMessage, TextMessage
    from p2pchat.tui.widgets.status_bar import StatusBar

    server = MailboxServer(host="127.0.0.1", port=0)
    url = await server.start()

    def app(label: str, seed: int) -> P2PChatApp:
        key = nacl.signing.SigningKey(bytes([seed]) * 32)
        config = ServiceConfig(mailbox_url=url, loopback=True, identity=key, label=label)
        return make_app(config, language="en", image_renderer="halfcell", my_label=label)

    alice, bob = app("alice", 1), app("bob", 2)
    try:
        async with alice.run_test(size=SIZE) as alice_pilot, bob.run_test(size=SIZE) as bob_pilot:
            await alice_pilot.press("ctrl+n")
            await until(
                lambda: isinstance(alice.screen, InviteScreen) and alice.screen.code, "invite code"
            )
            invite = alice.screen
            assert isinstance(invite, InviteScreen)
            code = invite.code
            bob.screen.query_one("#join-code", Input).value = code
            bob.screen.query_one("#join-code", Input).focus()
            await bob_pilot.press("enter")
            await until(lambda: isinstance(bob.screen, ChatScreen), "bob paired")
            await until(lambda: isinstance(alice.screen, ChatScreen), "alice paired")

            await alice_pilot.press(*"Here's the view from the hotel", "enter")
            await until(lambda: len(bob.screen.query(TextMessage)) == 1, "bob gets the text")
            await bob_pilot.press(*"Nice! Send the photo?", "enter")
            await until(lambda: len(alice.screen.query(TextMessage)) == 2, "alice gets the reply")

            alice.screen.query_one("#composer", Composer).load_text(f"/send {PHOTO}")
            await alice_pilot.press("enter")
            await until(lambda: isinstance(alice.screen, SendDialog), "send dialog")
            dialog = alice.screen
            assert isinstance(dialog, SendDialog)
            await until(lambda: dialog.prepared is not None, "photo sanitised")
            await alice_pilot.press("ctrl+s")

            def photo_drawn() -> bool:
                return any(m.query("HalfcellImage") for m in bob.screen.query(ImageMessage))

            await until(photo_drawn, "bob's photo drawn")
            await until(
                lambda: any(m.state_word == "delivered" for m in alice.screen.query(ImageMessage)),
                "alice sees it delivered",
            )
            await until(
                lambda: bob.screen.query_one("#status-bar", StatusBar).rtt is not None, "rtt"
            )
            for pilot in (alice_pilot, bob_pilot):
                await pilot.pause(0.3)
            output.parent.mkdir(parents=True, exist_ok=True)
            bob.save_screenshot(filename=output.name, path=str(output.parent))
    finally:
        await server.stop()
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot.svg")
    args = parser.parse_args()
    from p2pchat.net.loop import new_event_loop

    loop = new_event_loop()
    try:
        written = loop.run_until_complete(make_screenshot(args.output.resolve()))
    finally:
        loop.close()
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
