"""The typed seam front ends use: a real ChatService pair on 127.0.0.1, real contact books.

Everything is real (embedded mailbox server, aiortc on loopback, the isolated
sanitiser, contacts.json on disk); the front ends' own behaviour is tested in
their folders, this checks what the seam promises them.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected
from p2pchat.core.exit_status import EXIT_INPUT_REJECTED, EXIT_PAIRING_FAILED
from p2pchat.service import ChatSession, ServiceConfig, open_session
from p2pchat.service import events as ev
from p2pchat.service.contacts import ContactBlocked, ContactError, Contacts
from p2pchat.service.photos import MAX_PHOTO_FILE_BYTES, read_photo
from p2pchat.store.contacts import ContactBook
from tests.tui.helpers import ALICE_KEY, BOB_KEY
from tests.viewonce.conftest import DEADLINE, loopback_config, next_event, noise_photo


def _contacts(tmp_path: Path, who: str) -> Contacts:
    folder = tmp_path / who
    folder.mkdir(exist_ok=True)
    return Contacts(ContactBook(folder / "contacts.json"))


async def _pair(
    url: str, alice_config: ServiceConfig, bob_config: ServiceConfig
) -> tuple[ChatSession, ChatSession]:
    alice, bob = open_session(alice_config), open_session(bob_config)
    code = await alice.invite()
    await bob.join(code)
    await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
    return alice, bob


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path / "default-config"))


async def test_a_photo_goes_from_a_path_through_the_seam(embedded_mailbox, tmp_path):
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(noise_photo(seed=11))
    alice, bob = await _pair(
        embedded_mailbox,
        loopback_config(embedded_mailbox, ALICE_KEY, "alice"),
        loopback_config(embedded_mailbox, BOB_KEY, "bob"),
    )
    try:
        prepared = await alice.prepare_photo(photo)
        assert prepared.data[:3] == b"\xff\xd8\xff" and prepared.width == 96
        message_id = await alice.send_image(prepared)
        received = await next_event(bob, ev.ImageReceived)
        assert received.message_id == message_id
        assert received.data[:3] == b"\xff\xd8\xff"  # re-sanitised on arrival
        assert (received.width, received.height) == (prepared.width, prepared.height)
        text_id = await bob.send_text("got it")
        assert (await next_event(alice, ev.TextReceived)).text == "got it"
        assert (await next_event(bob, ev.Delivered)).message_id == text_id
    finally:
        assert await alice.close() == 0
        await bob.close()


def test_the_photo_file_limit_is_checked_before_reading(tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as handle:
        handle.truncate(MAX_PHOTO_FILE_BYTES + 1)  # sparse: nothing is allocated
    with pytest.raises(ImageRejected, match="too large") as refused:
        read_photo(huge)
    assert refused.value.exit_code == EXIT_INPUT_REJECTED
    with pytest.raises(ImageRejected, match="not a file"):
        read_photo(tmp_path)
    with pytest.raises(ImageRejected, match=r"cannot read .*missing\.jpg: No such file"):
        read_photo(tmp_path / "missing.jpg")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_photo_is_refused(tmp_path):
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(b"\xff\xd8\xff")
    locked.chmod(0)
    with pytest.raises(ImageRejected):
        read_photo(locked)


async def test_contacts_pin_rename_verify_block_reconnect_and_forget(embedded_mailbox, tmp_path):
    alice_contacts, bob_contacts = _contacts(tmp_path, "alice"), _contacts(tmp_path, "bob")
    alice_guard, bob_guard = alice_contacts.guard(), bob_contacts.guard(petname="Bob")
    alice, bob = await _pair(
        embedded_mailbox,
        loopback_config(embedded_mailbox, ALICE_KEY, "alice", peer_check=alice_guard),
        loopback_config(embedded_mailbox, BOB_KEY, "bob", peer_check=bob_guard),
    )
    await asyncio.gather(alice.close(), bob.close())
    assert [c.petname for c in alice_contacts.list()] == ["bob"]
    assert alice_guard.newly_pinned and bob_guard.contact is not None
    assert bob_contacts.require("Bob").identity_key == bytes(ALICE_KEY.verify_key)

    # Another process (here: another Contacts on the same file) sees each change at once.
    other = Contacts(ContactBook(alice_contacts.book.path))
    assert alice_contacts.rename("bob", "Bobby").petname == "Bobby"
    assert alice_contacts.verify("Bobby").verified
    assert other.require("Bobby").verified
    assert alice_contacts.block("Bobby").blocked and other.require("Bobby").blocked
    assert not alice_contacts.unblock("Bobby").blocked

    # A reconnect through the seam: no code, the pinned keys and meeting point.
    alice = open_session(
        loopback_config(
            embedded_mailbox,
            ALICE_KEY,
            "alice",
            peer_check=alice_contacts.guard(expected=alice_contacts.require("Bobby")),
        )
    )
    bob = open_session(
        loopback_config(
            embedded_mailbox,
            BOB_KEY,
            "bob",
            peer_check=bob_contacts.guard(expected=bob_contacts.require("Bob")),
        )
    )
    try:
        await asyncio.gather(
            alice.reconnect_contact(alice_contacts.require("Bobby")),
            bob.reconnect_contact(bob_contacts.require("Bob")),
        )
        paired = await alice.wait_paired(DEADLINE)
        assert paired.peer_identity == bytes(BOB_KEY.verify_key)
    finally:
        await asyncio.gather(alice.close(), bob.close())

    alice_contacts.forget("Bobby")
    assert alice_contacts.get("Bobby") is None and other.list() == []
    with pytest.raises(ContactError, match="No contact"):
        alice_contacts.require("Bobby")


async def test_a_blocked_contact_is_refused_through_the_seam(embedded_mailbox, tmp_path):
    alice_contacts = _contacts(tmp_path, "alice")
    first = alice_contacts.guard()
    alice, bob = await _pair(
        embedded_mailbox,
        loopback_config(embedded_mailbox, ALICE_KEY, "alice", peer_check=first),
        loopback_config(embedded_mailbox, BOB_KEY, "bob"),
    )
    await asyncio.gather(alice.close(), bob.close())
    alice_contacts.block("bob")
    alice = open_session(
        loopback_config(embedded_mailbox, ALICE_KEY, "alice", peer_check=alice_contacts.guard())
    )
    bob = open_session(loopback_config(embedded_mailbox, BOB_KEY, "bob"))
    try:
        code = await alice.invite()
        await bob.join(code)
        with pytest.raises(ContactBlocked) as refused:
            await alice.wait_paired(DEADLINE)
        assert refused.value.exit_code == EXIT_PAIRING_FAILED
    finally:
        await asyncio.gather(alice.close(), bob.close(), return_exceptions=True)
    assert alice_contacts.require("bob").blocked  # nothing re-pinned or unblocked it
