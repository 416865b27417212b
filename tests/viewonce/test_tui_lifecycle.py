"""The whole view-once lifecycle in a real Textual app, watched by the audit-hook file witness.

Alice is a ChatService, Bob the real app (``run_test``, half-cell renderer);
both are paired over the embedded mailbox and aiortc on 127.0.0.1. From the
moment Alice sends until Bob's viewer has closed and Alice heard ``opened``, no
file may be opened for writing and no file the process touched may hold the
photo's bytes.
"""

from __future__ import annotations

import gc
import os
import sys
import weakref

import pytest

from p2pchat.core.message import MessageState, ViewOnceState
from p2pchat.media.vault import ViewOnceRefusedError
from p2pchat.service import ChatService
from p2pchat.service import events as ev
from p2pchat.tui.app import P2PChatApp, make_app
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.view_once import (
    KITTY_DELETE_ALL_IMAGES,
    ViewOnceScreen,
    terminal_cleanup_sequence,
)
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import ImageMessage
from p2pchat.tui.widgets.sealed import SealedBody, SealedPhoto
from tests.tui.helpers import ALICE_KEY, BOB_KEY, text_of

from .audit import FileAudit, worker_argv
from .conftest import loopback_config, next_event, noise_photo, until


def bob_app(url: str) -> P2PChatApp:
    return make_app(
        loopback_config(url, BOB_KEY, "bob"),
        fingerprint="bob",
        language="en",
        image_renderer="halfcell",
        my_label="bob",
    )


async def paired_with_app(url: str, app: P2PChatApp, pilot) -> ChatService:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+n")
    await until(lambda: isinstance(app.screen, InviteScreen) and app.screen.code, "code shown")
    alice = ChatService(loopback_config(url, ALICE_KEY, "alice"))
    await alice.join(app.screen.code)
    await alice.wait_paired(30)
    await until(lambda: isinstance(app.screen, ChatScreen), "bob chatting")
    return alice


def notices(app: P2PChatApp) -> list[str]:
    return [text_of(n) for n in app.screen.query(".notice")]


async def test_view_once_lifecycle_never_touches_the_disk(embedded_mailbox, monkeypatch):
    # Bytecode caching is the interpreter's, not ours: keep it from adding noise.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    app = bob_app(embedded_mailbox)
    async with app.run_test(size=(100, 40)) as pilot:
        alice = await paired_with_app(embedded_mailbox, app, pilot)
        try:
            prepared = await alice.prepare_image(noise_photo(160, 120, seed=11))
            sent = bytes(prepared.data)
            bob = app.service
            with FileAudit() as audit:
                # A read the witness must see: it proves the hook is live even when nothing
                # else in this window opens a file (all modules loaded by earlier tests).
                with open(os.devnull, "rb"):
                    pass
                message_id = await alice.send_image(prepared, view_once=True, view_seconds=30)
                del prepared
                chat = app.screen
                await until(lambda: chat.query(SealedPhoto), "the sealed placeholder")
                [sealed] = chat.query(SealedPhoto)
                # Sealed: no thumbnail, no preview, no report; only words and a lock.
                assert not sealed.query(ImageView) and not chat.query(ImageMessage)
                assert not sealed.query(".message-report")
                body = text_of(sealed.query_one(SealedBody))
                assert "sealed" in body and "Enter" in body
                assert any("cannot prevent" in n for n in notices(app))
                item = bob.vault._items[sealed.vault_id]
                holder = weakref.ref(item)
                buffer = item.data
                received = bytes(buffer)  # the test's own copy, to search files for
                del item

                sealed.query_one(SealedBody).focus()
                await pilot.press("enter")
                await until(lambda: isinstance(app.screen, ViewOnceScreen), "viewer open")
                viewer = app.screen
                await until(lambda: viewer.query(".view-once-pixels"), "the photo is shown")
                await pilot.pause()
                assert "closes in" in text_of(viewer.query_one("#view-once-countdown"))
                assert "cannot prevent" in text_of(viewer.query_one("#view-once-limits"))
                await pilot.press("escape")
                await until(lambda: isinstance(app.screen, ChatScreen), "viewer closed")
                opened = await next_event(alice, ev.Opened)
            problems = audit.problems([sent, received])
            assert problems == [], problems
            # What was sealed is the receiver's worker's output (its spare, started before
            # the audit, cleaned it over pipes), not the sender's bytes; no other process ran.
            assert received != sent
            workers = (worker_argv("send"), worker_argv("receive"))
            assert all(argv in workers for argv in audit.processes)
            assert os.devnull in audit.opened and audit.events > 0

            assert opened.message_id == message_id
            gc.collect()
            assert holder() is None
            assert len(buffer) == len(received) and not any(buffer)
            assert not viewer.query(".view-once-pixels") and viewer._image is None
            assert sealed.seal is ViewOnceState.VIEWED
            assert sealed.state_word == "viewed"
            assert "viewed" in text_of(sealed.query_one(SealedBody))
            # The placeholder cannot be reopened, from the UI or the vault.
            sealed.query_one(SealedBody).focus()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, ChatScreen)
            with pytest.raises(ViewOnceRefusedError):
                bob.vault.open(sealed.vault_id)
            assert len(bob.vault) == 0
        finally:
            await alice.close()


async def test_the_viewer_closes_itself_when_the_countdown_ends(embedded_mailbox):
    app = bob_app(embedded_mailbox)
    async with app.run_test(size=(80, 30)) as pilot:
        alice = await paired_with_app(embedded_mailbox, app, pilot)
        try:
            prepared = await alice.prepare_image(noise_photo(seed=12))
            await alice.send_image(prepared, view_once=True, view_seconds=1)
            await until(lambda: app.screen.query(SealedPhoto), "the sealed placeholder")
            sealed = app.screen.query_one(SealedPhoto)
            sealed.query_one(SealedBody).focus()
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ViewOnceScreen), "viewer open")
            await until(lambda: isinstance(app.screen, ChatScreen), "viewer closed by itself")
            await next_event(alice, ev.Opened)
            assert sealed.seal is ViewOnceState.VIEWED and len(app.service.vault) == 0
        finally:
            await alice.close()


async def test_anything_covering_the_viewer_ends_the_viewing(embedded_mailbox):
    """The command palette (which offers an SVG screenshot) never sees the photo."""
    app = bob_app(embedded_mailbox)
    async with app.run_test(size=(80, 30)) as pilot:
        alice = await paired_with_app(embedded_mailbox, app, pilot)
        try:
            await alice.send_image(
                await alice.prepare_image(noise_photo(seed=13)), view_once=True, view_seconds=60
            )
            await until(lambda: app.screen.query(SealedPhoto), "the sealed placeholder")
            sealed = app.screen.query_one(SealedPhoto)
            sealed.query_one(SealedBody).focus()
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ViewOnceScreen), "viewer open")
            viewer = app.screen
            await until(lambda: viewer.query(".view-once-pixels"), "the photo is shown")
            app.action_command_palette()
            await until(lambda: viewer.finished, "viewing ended under the palette")
            assert len(app.service.vault) == 0 and not viewer.query(".view-once-pixels")
            await pilot.press("escape")
            await until(lambda: isinstance(app.screen, ChatScreen), "back in the chat")
            await next_event(alice, ev.Opened)
        finally:
            await alice.close()


def test_kitty_terminals_are_told_to_forget_the_image() -> None:
    from textual_image.widget import HalfcellImage, TGPImage

    assert terminal_cleanup_sequence(TGPImage) == KITTY_DELETE_ALL_IMAGES
    assert KITTY_DELETE_ALL_IMAGES.startswith("\x1b_Ga=d") and KITTY_DELETE_ALL_IMAGES.endswith(
        "\x1b\\"
    )
    assert terminal_cleanup_sequence(HalfcellImage) is None  # cells are simply redrawn


async def test_sending_from_the_app_keeps_no_thumbnail_and_says_the_limits(
    embedded_mailbox, tmp_path
):
    from textual.widgets import Button, Checkbox

    from p2pchat.tui.screens.send_dialog import SendDialog

    photo = tmp_path / "noise.jpg"
    photo.write_bytes(noise_photo(seed=14))
    app = bob_app(embedded_mailbox)
    async with app.run_test(size=(100, 40)) as pilot:
        alice = await paired_with_app(embedded_mailbox, app, pilot)
        try:
            chat = app.screen
            chat.open_send_dialog(photo)
            await until(lambda: isinstance(app.screen, SendDialog), "send dialog open")
            dialog = app.screen
            await until(lambda: dialog.prepared is not None, "image sanitised")
            limits = dialog.query_one("#send-view-once-limits")
            assert "cannot prevent" in text_of(limits) and not limits.display
            dialog.query_one("#view-once", Checkbox).value = True
            await until(lambda: limits.display, "the limits said when view-once is ticked")
            dialog.query_one("#send", Button).press()
            await until(lambda: isinstance(app.screen, ChatScreen), "dialog closed")
            received = await next_event(alice, ev.ImageReceived)
            assert received.view_once and received.vault_id in alice.vault
            [bubble] = chat.query(ImageMessage)
            assert bubble.data == b"" and not bubble.query(ImageView)
            assert any("cannot prevent" in n for n in notices(app))
            await until(lambda: bubble.state is MessageState.DELIVERED, "delivered")
        finally:
            await alice.close()
