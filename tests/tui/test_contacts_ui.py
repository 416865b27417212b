"""Contacts in the app: pin, reconnect from the list, key change, block, /export, /timer.

Two real apps and services in this test's event loop, paired over the embedded
mailbox and aiortc on 127.0.0.1; each side has its own contact book in its own
temporary config directory. Waits poll the UI with a generous deadline; nothing
asserts how long anything took. Disappearing messages use a conversation clock
that runs 60 times faster than real time (the 30 s setting takes half a second).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import nacl.signing
import pytest
from textual.widgets import Button, Checkbox

from p2pchat.core.crypto import fingerprint
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service.contact_guard import ContactGuard
from p2pchat.store.contacts import ContactBook
from p2pchat.store.settings import Settings
from p2pchat.tui.app import P2PChatApp, make_app
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.confirm import ConfirmDialog
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.key_changed import KeyChangedScreen
from p2pchat.tui.screens.reconnect import ReconnectScreen
from p2pchat.tui.widgets.contact_list import ContactList
from p2pchat.tui.widgets.message_list import ImageMessage, TextMessage
from p2pchat.tui.widgets.sealed import SealedPhoto
from p2pchat.tui.widgets.status_bar import StatusBar

from ..viewonce.conftest import noise_photo
from .helpers import (
    ALICE_KEY,
    BOB_KEY,
    SAFETY_NUMBER,
    loopback_app,
    paired_event,
    real_prepare,
    text_of,
)
from .test_loopback import enter_code, invite_code, notices, texts, until

SPEEDUP = 60.0
SHARED_PSK = bytes(range(100, 132))
NEW_BOB_KEY = nacl.signing.SigningKey(bytes(range(150, 182)))


def fast_clock() -> float:
    return time.time() * SPEEDUP


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    """Nothing may touch the real config directory; each side gets its own below."""
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path / "default-config"))


def book_for(tmp_path: Path, who: str) -> ContactBook:
    directory = tmp_path / who
    directory.mkdir(mode=0o700, exist_ok=True)
    return ContactBook(directory / "contacts.json")


def app_for(url: str, key, label: str, book: ContactBook | None, **kwargs) -> P2PChatApp:
    guard = ContactGuard(book) if book is not None else None
    return loopback_app(url, key, label, peer_check=guard, **kwargs)


@contextlib.asynccontextmanager
async def running(app: P2PChatApp):
    async with app.run_test(size=(100, 40)) as pilot:
        yield pilot


def seed_pinned_pair(alice_book: ContactBook, bob_book: ContactBook) -> None:
    """Both books as after a first pairing (same reconnect secret on both sides)."""
    alice_book.pin("bob", bytes(BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK)
    bob_book.pin("alice", bytes(ALICE_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK)


async def choose_contact(app: P2PChatApp, pilot, petname: str) -> None:
    table = app.screen.query_one(ContactList)
    table.focus()
    table.move_cursor(row=table.get_row_index(petname))
    await pilot.press("enter")


def contact_rows(app: P2PChatApp) -> dict[str, list[str]]:
    table = app.screen.query_one(ContactList)
    return {str(key.value): [cell.plain for cell in table.get_row(key)] for key in table.rows}


async def test_first_pairing_pins_then_the_list_reconnects_without_a_code(
    embedded_mailbox, tmp_path
):
    alice_book, bob_book = book_for(tmp_path, "alice"), book_for(tmp_path, "bob")
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", alice_book)
    bob = app_for(embedded_mailbox, BOB_KEY, "bob", bob_book)
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        assert text_of(alice.screen.query_one("#contacts-empty")).startswith("No contacts")
        code = await invite_code(alice, alice_pilot)
        await enter_code(bob, bob_pilot, code)
        await until(lambda: isinstance(alice.screen, ChatScreen), "alice chatting")
        await until(lambda: isinstance(bob.screen, ChatScreen), "bob chatting")
    alice_book.reload()
    bob_book.reload()
    pinned_bob, pinned_alice = alice_book.get("bob"), bob_book.get("alice")
    assert pinned_bob is not None and pinned_bob.identity_key == bytes(BOB_KEY.verify_key)
    assert pinned_alice is not None and pinned_alice.identity_key == bytes(ALICE_KEY.verify_key)

    # A new pair of apps: no code anywhere, each chooses the other in its list.
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", alice_book)
    bob = app_for(embedded_mailbox, BOB_KEY, "bob", bob_book)
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        assert list(contact_rows(alice)) == ["bob"]
        await choose_contact(alice, alice_pilot, "bob")
        await until(lambda: isinstance(alice.screen, ReconnectScreen), "alice waits for bob")
        assert "bob" in text_of(alice.screen.query_one("#reconnect-title"))
        await choose_contact(bob, bob_pilot, "alice")
        await until(lambda: isinstance(alice.screen, ChatScreen), "alice meets bob again")
        await until(lambda: isinstance(bob.screen, ChatScreen), "bob meets alice again")
        assert alice.screen.contact is not None and alice.screen.contact.petname == "bob"
        await bob_pilot.press(*"no code needed", "enter")
        await until(lambda: "no code needed" in texts(alice), "alice receives bob's text")
        header = text_of(alice.screen.query_one(TextMessage).query_one(".message-header"))
        assert header.startswith("bob")


async def test_changed_key_shows_the_warning_and_nothing_of_the_peer(embedded_mailbox, tmp_path):
    alice_book = book_for(tmp_path, "alice")
    # Alice knows a "bob" with another key; someone announcing "bob" now has this one.
    old_bob_key = nacl.signing.SigningKey(bytes(range(200, 232)))
    alice_book.pin("bob", bytes(old_bob_key.verify_key), SAFETY_NUMBER, SHARED_PSK)
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", alice_book)
    stranger = app_for(embedded_mailbox, BOB_KEY, "bob", book_for(tmp_path, "stranger"))
    async with running(alice) as alice_pilot, running(stranger) as stranger_pilot:
        code = await invite_code(alice, alice_pilot)
        await enter_code(stranger, stranger_pilot, code)
        await until(lambda: isinstance(alice.screen, KeyChangedScreen), "alice is warned")
        warning = alice.screen
        text = text_of(warning.query_one("#keychange-text"))
        assert "HAS CHANGED" in text and "'bob'" in text
        fingerprints = text_of(warning.query_one("#keychange-fingerprints"))
        assert fingerprint(bytes(old_bob_key.verify_key)) in fingerprints
        assert fingerprint(bytes(BOB_KEY.verify_key)) in fingerprints
        assert alice.chat_screen is None and alice.service is None
        # Whatever the stranger sends never reaches alice's screen.
        if isinstance(stranger.screen, ChatScreen) and not stranger.screen.ended:
            await stranger_pilot.press(*"trust me", "enter")
        await alice_pilot.pause(0.5)
        assert alice.chat_screen is None and not alice.screen.query(TextMessage)
        assert alice_book.get("bob").identity_key == bytes(old_bob_key.verify_key)
        # Nothing is accepted by itself: re-pairing waits for the user's explicit check.
        assert warning.query_one("#repair-invite", Button).disabled
        warning.query_one("#keychange-checked", Checkbox).value = True
        await alice_pilot.pause()
        assert not warning.query_one("#repair-invite", Button).disabled
        await alice_pilot.click("#repair-invite")
        new_code = await until_code(alice)
        # Bob, who really has a new key, joins with the new code: the new key is pinned.
        bob = app_for(embedded_mailbox, NEW_BOB_KEY, "bob", book_for(tmp_path, "bob"))
        async with running(bob) as bob_pilot:
            await enter_code(bob, bob_pilot, new_code)
            await until(lambda: isinstance(alice.screen, ChatScreen), "alice chats after re-pair")
            assert alice.screen.contact.petname == "bob"
    alice_book.reload()
    repinned = alice_book.get("bob")
    assert repinned is not None and repinned.identity_key == bytes(NEW_BOB_KEY.verify_key)
    assert not repinned.verified


async def until_code(app: P2PChatApp) -> str:
    await until(lambda: isinstance(app.screen, InviteScreen) and app.screen.code, "code shown")
    return app.screen.code


async def test_contact_keys_rename_block_unblock_and_remove_with_confirmation(tmp_path):
    book = book_for(tmp_path, "alice")
    book.pin("bob", bytes(BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK)
    book.mark_verified("bob")
    app = app_for("ws://127.0.0.1:9/v1", ALICE_KEY, "alice", book)
    async with running(app) as pilot:
        rows = contact_rows(app)
        assert rows["bob"][:3] == ["bob", "✓ verified", ""]
        app.screen.query_one(ContactList).focus()
        await pilot.pause()
        shown = {binding.id for _, binding, *_ in app.active_bindings.values()}
        assert {"contacts.reconnect", "contacts.rename", "contacts.block"} <= shown
        assert "contacts.remove" in shown
        await pilot.press("r")
        await until(lambda: app.focused is app.screen.query_one("#name-input"), "rename dialog")
        app.screen.query_one("#name-input").value = "Bobby [red]"
        await pilot.press("enter")
        await until(lambda: "Bobby [red]" in contact_rows(app), "renamed in the list")
        assert book.get("Bobby [red]") is not None and book.get("bob") is None
        await pilot.press("b")
        await until(lambda: isinstance(app.screen, ConfirmDialog), "block asks first")
        await pilot.press("enter")  # the focused button is Cancel: nothing happens
        await pilot.pause()
        assert not book.get("Bobby [red]").blocked
        await pilot.press("b")
        await until(lambda: isinstance(app.screen, ConfirmDialog), "block asks again")
        await pilot.click("#confirm")
        await until(lambda: contact_rows(app)["Bobby [red]"][2] == "✗ blocked", "blocked mark")
        assert book.get("Bobby [red]").blocked
        await pilot.press("b")  # unblocking refuses nobody: no question
        await until(lambda: contact_rows(app)["Bobby [red]"][2] == "", "unblocked")
        await pilot.press("delete")
        await until(lambda: isinstance(app.screen, ConfirmDialog), "remove asks first")
        await pilot.click("#confirm")
        await until(lambda: not book.contacts, "removed from the book")
        assert app.screen.query_one("#contacts-empty").display


async def test_blocked_contact_is_refused_from_the_list_and_with_a_code(embedded_mailbox, tmp_path):
    alice_book, bob_book = book_for(tmp_path, "alice"), book_for(tmp_path, "bob")
    seed_pinned_pair(alice_book, bob_book)
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", alice_book)
    bob = app_for(embedded_mailbox, BOB_KEY, "bob", bob_book)
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        # Blocking from inside a conversation: asks, blocks, closes, goes home.
        await choose_contact(alice, alice_pilot, "bob")
        await choose_contact(bob, bob_pilot, "alice")
        await until(lambda: isinstance(alice.screen, ChatScreen), "alice meets bob")
        await until(lambda: isinstance(bob.screen, ChatScreen), "bob meets alice")
        alice.screen.query_one("#composer").load_text("/block")
        await alice_pilot.press("enter")
        await until(lambda: isinstance(alice.screen, ConfirmDialog), "block asks first")
        await alice_pilot.click("#confirm")
        await until(lambda: isinstance(alice.screen, HomeScreen), "alice back home")
        assert alice_book.get("bob").blocked and alice.service is None
        assert contact_rows(alice)["bob"][2] == "✗ blocked"
        await until(lambda: bob.screen.ended, "bob's conversation ended")
        # Choosing a blocked contact goes nowhere near the network.
        await choose_contact(alice, alice_pilot, "bob")
        await alice_pilot.pause()
        assert isinstance(alice.screen, HomeScreen) and alice.service is None
        assert "blocked" in text_of(alice.screen.query_one("#join-error"))
    # Bob tries a fresh code: refused before anything he sends is shown.
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", alice_book)
    bob = app_for(embedded_mailbox, BOB_KEY, "bob", bob_book)
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        code = await invite_code(alice, alice_pilot)
        await enter_code(bob, bob_pilot, code)
        await until(lambda: isinstance(alice.screen, HomeScreen), "alice refused him")
        error = text_of(alice.screen.query_one("#join-error"))
        assert error.startswith("Refused") and "bob" not in error
        if isinstance(bob.screen, ChatScreen) and not bob.screen.ended:
            await bob_pilot.press(*"let me in", "enter")
        await alice_pilot.pause(0.5)
        assert alice.chat_screen is None and not alice.screen.query(TextMessage)


async def test_timer_makes_a_message_vanish_on_both_sides(embedded_mailbox, tmp_path):
    alice = app_for(embedded_mailbox, ALICE_KEY, "alice", None, clock=fast_clock)
    bob = app_for(embedded_mailbox, BOB_KEY, "bob", None, clock=fast_clock)
    async with running(alice) as alice_pilot, running(bob) as bob_pilot:
        code = await invite_code(alice, alice_pilot)
        await enter_code(bob, bob_pilot, code)
        await until(lambda: isinstance(alice.screen, ChatScreen), "alice chatting")
        await until(lambda: isinstance(bob.screen, ChatScreen), "bob chatting")
        await alice_pilot.press(*"kept for good", "enter")
        await until(lambda: "kept for good" in texts(bob), "bob has the first text")
        alice.screen.query_one("#composer").load_text("/timer 30s")
        await alice_pilot.press("enter")
        for app in (alice, bob):
            status = app.screen.query_one(StatusBar)
            await until(lambda status=status: status.timer == 30, "timer agreed")
            assert "30s" in str(status.render())
        assert any("Disappearing messages set by alice" in n for n in notices(bob))
        await alice_pilot.press(*"this will vanish", "enter")
        await until(lambda: "this will vanish" in texts(bob), "bob receives it")
        await until(lambda: "this will vanish" not in texts(bob), "gone from bob's screen")
        await until(lambda: "this will vanish" not in texts(alice), "gone from alice's screen")
        # Only what came after the timer disappears.
        assert "kept for good" in texts(alice) and "kept for good" in texts(bob)
        assert all("this will vanish" not in m.text for m in bob.screen.conversation.messages())


async def test_export_writes_text_without_view_once_and_refuses_to_overwrite(
    embedded_mailbox, tmp_path
):
    """The export is the service's conversation: what bob sent over a real link, and ours."""
    app = app_for(embedded_mailbox, ALICE_KEY, "alice", None, start_dir=tmp_path)
    bob = ChatService(
        ServiceConfig(
            mailbox_url=embedded_mailbox,
            ice=IceSettings(),
            loopback=True,
            identity=BOB_KEY,
            label="bob",
        )
    )
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await bob.join(await invite_code(app, pilot))
            await bob.wait_paired(20)
            await until(lambda: isinstance(app.screen, ChatScreen), "alice chatting")
            chat = app.screen
            await bob.send_text("you will regret this")
            sealed = await bob.prepare_image(noise_photo(64, 48, seed=5))
            await bob.send_image(sealed, view_once=True)
            photo = await bob.prepare_image(noise_photo(32, 16, seed=6))
            await bob.send_image(photo)
            await until(lambda: len(app.service.conversation) == 3, "alice has bob's three")
            await until(lambda: chat.query(SealedPhoto) and chat.query(ImageMessage), "both shown")
            chat.query_one("#composer").load_text("leave me alone")
            await pilot.press("enter")
            await until(lambda: len(app.service.conversation) == 4, "the service sent ours")
            chat.query_one("#composer").load_text("/export evidence.txt")
            await pilot.press("enter")
            await pilot.pause()
            written = (tmp_path / "evidence.txt").read_text("utf-8")
            assert "peer: bob" in written and "me: alice" in written
            assert " ".join(SAFETY_NUMBER[i : i + 5] for i in range(0, 60, 5)) in written
            assert "bob: you will regret this" in written and "alice: leave me alone" in written
            assert "[photo 32x16" in written and "64x48" not in written
            assert "harassment" in written
            assert oct(os.stat(tmp_path / "evidence.txt").st_mode & 0o777) == "0o600"
            assert any("contains bob's words" in n for n in notices(app))
            chat.query_one("#composer").load_text("/export evidence.txt")
            await pilot.press("enter")
            await pilot.pause()
            assert any("already exists" in n for n in notices(app))
            assert (tmp_path / "evidence.txt").read_text("utf-8") == written
            chat.query_one("#composer").load_text("one more line")
            await pilot.press("enter")
            await until(lambda: len(app.service.conversation) == 5, "the service sent it")
            chat.query_one("#composer").load_text("/export evidence.txt --force")
            await pilot.press("enter")
            await pilot.pause()
            assert "alice: one more line" in (tmp_path / "evidence.txt").read_text("utf-8")
    finally:
        await bob.close()


async def test_verified_mark_persists_for_a_pinned_contact(tmp_path):
    book = book_for(tmp_path, "alice")
    contact = book.pin("bob", bytes(BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK)
    app = app_for("ws://127.0.0.1:9/v1", ALICE_KEY, "alice", book)
    async with running(app) as pilot:
        chat = ChatScreen(
            paired=paired_event(), my_label="alice", prepare_image=real_prepare, contact=contact
        )
        await app.push_screen(chat)
        await pilot.pause()
        assert not chat.query_one(StatusBar).verified
        await pilot.press("f2")
        await until(lambda: app.screen.query("#mark-verified"), "verify screen")
        await pilot.click("#mark-verified")
        await until(lambda: chat.query_one(StatusBar).verified, "status bar says verified")
        assert book.get("bob").verified
        assert ContactBook(book.path).get("bob").verified


def test_settings_choose_language_downscale_and_view_once_time():
    try:
        app = make_app(
            ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"),
            settings=Settings(language="ja", max_long_edge=640, view_seconds=25),
        )
        from p2pchat.i18n import get_language

        assert get_language() == "ja"
        assert app.config.image_policy.max_long_edge == 640
        assert app.service_factory().config.image_policy.max_long_edge == 640
        assert app.view_seconds == 25.0
    finally:
        from p2pchat.i18n import set_language

        set_language("en")


def _snapshot_app(tmp_path: Path) -> P2PChatApp:
    book = book_for(tmp_path, "alice")
    when = 1_700_000_000.0
    book.pin("bob", bytes(BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK, when)
    book.mark_verified("bob")
    book.pin("carol", bytes(NEW_BOB_KEY.verify_key), SAFETY_NUMBER, SHARED_PSK, when)
    book.block("carol")
    return make_app(
        ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1", peer_check=ContactGuard(book)),
        fingerprint="12345 67890 12345 67890 12345 67890",
        language="en",
        image_renderer="halfcell",
    )


def test_home_with_contacts_snapshot(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "p2pchat.tui.widgets.contact_list.last_seen_text", lambda _: "2023-11-14 22:13"
    )
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(100, 40))


def test_key_changed_screen_snapshot(snap_compare, tmp_path):
    from p2pchat.service.contacts import key_changed

    async def warn(pilot):
        error = key_changed("bob", bytes(BOB_KEY.verify_key), bytes(NEW_BOB_KEY.verify_key))
        pilot.app._show_key_changed(error)
        await pilot.pause()

    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(100, 40), run_before=warn)


async def test_home_with_contacts_fits_80x24(tmp_path):
    """The home screen's border and contact list used to be cut off at 80x24."""
    app = _snapshot_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#home-box")
        assert box.region.y >= 0 and box.region.bottom <= 23  # above the footer
        table = app.screen.query_one(ContactList)
        box.scroll_to_widget(table, animate=False)
        await pilot.pause()
        assert box.region.contains_region(table.region)


def test_home_with_contacts_snapshot_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "p2pchat.tui.widgets.contact_list.last_seen_text", lambda _: "2023-11-14 22:13"
    )
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=(80, 24))
