"""A peer's name is never read as markup: hostile names through two real apps, and a hostile book.

Alice announces a hostile display name; Bob's app shows it in every place a
peer's name appears (paired notice, typing line, message header, timer notice,
block dialog, evidence export, "left" notice, then the contact list, rename,
block and remove dialogs and the reconnect screen). Bob's app must stay up,
show the name literally, and never hand a string containing the name to a
markup parser (``MarkupRecorder``). A name over the limit is refused with a
clear message on both sides, not a silent wait.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from textual.content import Content
from textual.widgets import Checkbox, Input

from p2pchat.core.labels import read_peer_label, safe_label
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service.contact_guard import ContactGuard
from p2pchat.service.contacts import Contacts
from p2pchat.store.contacts import ContactBook, KeyChanged
from p2pchat.store.petnames import petname_from_label
from p2pchat.tui.app import P2PChatApp, make_app
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.confirm import ConfirmDialog, NameDialog
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.key_changed import KeyChangedScreen
from p2pchat.tui.screens.reconnect import ReconnectScreen
from p2pchat.tui.widgets.contact_list import ContactList
from p2pchat.tui.widgets.message_list import TextMessage
from tests.hostile_names import HOSTILE_NAMES, LONG_NAME, MARKER, recording_markup

from .helpers import ALICE_KEY, BOB_KEY, SAFETY_NUMBER, loopback_app, text_of
from .test_contacts_ui import book_for, choose_contact, contact_rows
from .test_loopback import enter_code, invite_code, notices, until
from .test_offline import offline_app

PSK = bytes(range(100, 132))


@pytest.fixture(autouse=True)
def private_config(tmp_path, monkeypatch):
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path / "default-config"))


@contextlib.asynccontextmanager
async def running(app: P2PChatApp, size: tuple[int, int] = (100, 40)):
    # Notifications on: a toast renders its message, and that is a sink too.
    async with app.run_test(size=size, notifications=True) as pilot:
        yield pilot


def shown_name(label: str) -> str:
    """What Bob's chat shows for Alice: the petname pinned from her label, as a safe label."""
    return safe_label(petname_from_label(read_peer_label(label)), 40)


def plain(widget: object) -> str:
    return text_of(widget)


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press(char)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_every_sink_shows_a_hostile_peer_name_literally(embedded_mailbox, tmp_path, name):
    bob_book = book_for(tmp_path, "bob")
    shown = shown_name(name)
    assert shown and MARKER in shown
    with recording_markup() as recorder:
        alice = peer_announcing(embedded_mailbox, name)
        bob = loopback_app(embedded_mailbox, BOB_KEY, "bob", peer_check=ContactGuard(bob_book))
        async with running(alice) as alice_pilot, running(bob) as bob_pilot:
            code = await invite_code(alice, alice_pilot)
            await enter_code(bob, bob_pilot, code)
            await until(lambda: isinstance(alice.screen, ChatScreen), "alice chatting")
            await until(lambda: isinstance(bob.screen, ChatScreen), "bob chatting")
            bob_chat = bob.screen
            assert any(shown in notice for notice in notices(bob)), "paired notice"

            # The typing line: where the audit's name crashed the app.
            await type_text(alice_pilot, "hi")
            typing = bob_chat.query_one("#typing")
            await until(lambda: MARKER in plain(typing), "typing line")
            assert plain(typing).startswith(shown)

            await alice_pilot.press("enter")
            await until(lambda: bob_chat.query(TextMessage), "message arrived")
            header = plain(bob_chat.query_one(TextMessage).query_one(".message-header"))
            assert header.startswith(shown)

            alice.screen.query_one("#composer").load_text("/timer 30s")
            await alice_pilot.press("enter")
            await until(lambda: any(shown in n and "30s" in n for n in notices(bob)), "timer")

            bob_chat.action_block()  # asks first, naming the contact
            await until(lambda: isinstance(bob.screen, ConfirmDialog), "block dialog")
            assert shown in plain(bob.screen.query_one(".dialog-title"))
            await bob_pilot.press("escape")
            await until(lambda: bob.screen is bob_chat, "block dialog closed")

            evidence = tmp_path / "evidence.txt"
            bob_chat.query_one("#composer").load_text(f"/export {evidence}")
            await bob_pilot.press("enter")
            await until(evidence.exists, "evidence written")
            header_lines = evidence.read_text("utf-8").splitlines()
            assert f"peer: {shown}" in header_lines

            await alice_pilot.press("ctrl+q")
            await until(lambda: any(MARKER in n and "left" in n for n in notices(bob)), "left")
            assert bob.is_running and bob.return_code is None

        # The book now holds the petname derived from the name: the home screen lists it.
        bob_book.reload()
        [contact] = bob_book.contacts
        bob = loopback_app(embedded_mailbox, BOB_KEY, "bob", peer_check=ContactGuard(bob_book))
        async with running(bob) as bob_pilot:
            await exercise_contact_sinks(bob, bob_pilot, contact.petname)
    assert recorder.with_marker() == [], "a peer's name was parsed as markup"


async def exercise_contact_sinks(app: P2PChatApp, pilot, petname: str) -> None:
    """The contact list and every dialog that names a contact, with Escape out of each."""
    assert isinstance(app.screen, HomeScreen)
    shown = safe_label(petname, 40)
    assert contact_rows(app)[petname][0] == petname
    table = app.screen.query_one(ContactList)
    table.focus()
    table.move_cursor(row=table.get_row_index(petname))
    await pilot.press("r")
    await until(lambda: isinstance(app.screen, NameDialog), "rename dialog")
    assert petname in plain(app.screen.query_one(".dialog-title"))
    assert app.screen.query_one(Input).value == petname
    await pilot.press("escape")
    for key in ("b", "delete"):
        await until(lambda: isinstance(app.screen, HomeScreen), "home again")
        await pilot.press(key)
        await until(lambda: isinstance(app.screen, ConfirmDialog), f"dialog of {key}")
        assert petname in plain(app.screen.query_one(".dialog-text"))
        await pilot.press("escape")
    await until(lambda: isinstance(app.screen, HomeScreen), "home again")
    await choose_contact(app, pilot, petname)
    await until(lambda: isinstance(app.screen, ReconnectScreen), "reconnect screen")
    assert shown[:20] in plain(app.screen.query_one("#reconnect-title"))
    await pilot.press("escape")
    await until(lambda: isinstance(app.screen, HomeScreen), "reconnect cancelled")
    assert app.is_running and app.return_code is None


def peer_announcing(url: str, label: str) -> P2PChatApp:
    """Alice's app, announcing ``label`` unchecked: what a modified client can send."""

    def modified_service() -> ChatService:
        config = ServiceConfig(mailbox_url=url, identity=ALICE_KEY, loopback=True, label="alice")
        service = ChatService(config)
        service._own_label = label  # past our own check_own_label, as a modified client is
        return service

    return make_app(
        service_factory=modified_service,
        language="en",
        fingerprint="alice",
        image_renderer="halfcell",
        my_label="alice",
    )


@pytest.mark.parametrize(
    ("label", "bob_sees", "alice_sees"),
    [
        # Fits in the sealed version message: Bob refuses it and tells Alice why.
        ("[b]" * 30 + MARKER, "display name was refused", "refused your display name"),
        # 10,000 characters do not even fit: Alice stops, and says so instead of going silent.
        (LONG_NAME, "stopped pairing because of a problem on their side", "shorten the label"),
    ],
    ids=["over-64", "10000"],
)
async def test_a_name_over_the_limit_is_refused_clearly_on_both_sides(
    embedded_mailbox, label, bob_sees, alice_sees
):
    """A modified peer announces a name over the limit: both sides say why, at once."""
    with recording_markup() as recorder:
        alice = peer_announcing(embedded_mailbox, label)
        bob = loopback_app(embedded_mailbox, BOB_KEY, "bob")
        async with running(alice) as alice_pilot, running(bob) as bob_pilot:
            code = await invite_code(alice, alice_pilot)
            await enter_code(bob, bob_pilot, code)
            bob_error = lambda: plain(bob.screen.query_one("#join-error"))  # noqa: E731
            await until(lambda: bob_sees in bob_error(), "bob says why")
            await until(lambda: isinstance(alice.screen, HomeScreen), "alice back home")
            await until(
                lambda: alice_sees in plain(alice.screen.query_one("#join-error")), "alice told"
            )
            assert isinstance(bob.screen, HomeScreen) and bob.is_running and alice.is_running
    assert recorder.with_marker() == []


def write_book(path: Path, petnames: list[str]) -> None:
    """A contacts.json as an older version, or a hand edit, may have left it."""
    book = ContactBook(path)
    for number, petname in enumerate(petnames):
        book.pin(petname, bytes([number + 1]) * 32, SAFETY_NUMBER, PSK)


async def test_a_book_holding_hostile_petnames_crashes_nothing(tmp_path):
    path = tmp_path / "contacts.json"
    # The petnames a book holds after pairing with these names (no "/" or "\\" in any).
    valid = sorted({petname_from_label(read_peer_label(name)) for name in HOSTILE_NAMES})
    assert len(valid) == len(HOSTILE_NAMES)
    write_book(path, valid)
    book = ContactBook(path)
    with recording_markup() as recorder:
        app = offline_app(contacts=Contacts(book))
        async with running(app, (110, 40)) as pilot:
            await pilot.pause()
            assert set(contact_rows(app)) == set(valid)
            for petname in valid:
                app.screen.query_one(ContactList).focus()
                await exercise_dialogs_offline(app, pilot, petname)
            error = KeyChanged(
                f"the key of {valid[0]!r} changed",
                petname=valid[0],
                pinned_key=bytes(32),
                offered_key=bytes([9]) * 32,
            )
            await app.push_screen(KeyChangedScreen(error))
            await pilot.pause()
            assert valid[0] in plain(app.screen.query_one("#keychange-title"))
            label = app.screen.query_one(Checkbox).label
            assert isinstance(label, Content) and valid[0] in label.plain
            assert app.is_running and app.return_code is None
    assert recorder.with_marker() == []


async def exercise_dialogs_offline(app: P2PChatApp, pilot, petname: str) -> None:
    table = app.screen.query_one(ContactList)
    table.move_cursor(row=table.get_row_index(petname))
    await pilot.press("r")
    await until(lambda: isinstance(app.screen, NameDialog), "rename dialog")
    assert petname in plain(app.screen.query_one(".dialog-title"))
    await pilot.press("escape")
    await until(lambda: isinstance(app.screen, HomeScreen), "home")
    await pilot.press("b")
    await until(lambda: isinstance(app.screen, ConfirmDialog), "block dialog")
    assert petname in plain(app.screen.query_one(".dialog-text"))
    await pilot.press("escape")
    await until(lambda: isinstance(app.screen, HomeScreen), "home")


async def test_an_unreadable_book_with_a_hostile_petname_is_a_notice_not_a_crash(tmp_path):
    """A hand-edited contacts.json (a 10,000-character petname with escapes and markup),
    in a folder whose name is markup too: the app says the book is unreadable and stays up."""
    folder = tmp_path / "[@click=app.quit('x)]Mallory"
    folder.mkdir()
    path = folder / "contacts.json"
    write_book(path, ["bob"])
    book = ContactBook(path)  # read before another process damaged it
    data = json.loads(path.read_text("utf-8"))
    data["contacts"][0]["petname"] = "\x1b[2J" + LONG_NAME
    path.write_text(json.dumps(data), "utf-8")
    with recording_markup() as recorder:
        app = offline_app(contacts=Contacts(book))
        async with running(app, (110, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, HomeScreen)
            [notification] = app._notifications
            assert "unreadable" in notification.message and MARKER in notification.message
            await pilot.pause(0.2)
            assert app.is_running and app.return_code is None
    assert recorder.with_marker() == []


async def test_our_own_name_over_the_limit_stops_the_app_before_any_network(tmp_path):
    """The app's config carries the name: an invite says why at once, and nothing is sent."""
    app = loopback_app("ws://127.0.0.1:9/v1", ALICE_KEY, "n" * 65)
    async with running(app) as pilot:
        await pilot.press("ctrl+n")
        error = app.screen.query_one("#join-error")
        await until(lambda: "cannot be used" in plain(error), "refused at once")
        assert "64" in plain(error) and app.service is None and isinstance(app.screen, HomeScreen)
