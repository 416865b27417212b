"""Pinned contacts: TOFU, key changes, block/verify/rename/remove, persistence, corruption."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from p2pchat.core.crypto import fingerprint, safety_number
from p2pchat.store.contacts import (
    ContactBook,
    ContactError,
    ContactNotFound,
    ContactsCorrupt,
    KeyAlreadyPinned,
    KeyChanged,
)

MY_KEY = bytes(range(32))


def peer_key() -> bytes:
    return os.urandom(32)


def pin(book: ContactBook, name: str, key: bytes, now: float = 1000.0):
    return book.pin(name, key, safety_number(MY_KEY, key), os.urandom(32), now)


def test_pin_persists_across_reload(config_dir: Path) -> None:
    key, psk = peer_key(), os.urandom(32)
    book = ContactBook()
    pinned = book.pin("Alice", key, safety_number(MY_KEY, key), psk, 1000.0)
    assert (pinned.verified, pinned.blocked) == (False, False)
    reloaded = ContactBook()
    contact = reloaded.get("alice")  # petnames match case-insensitively
    assert contact is not None
    assert contact == pinned
    assert contact.reconnect_psk == psk and contact.identity_key == key
    assert contact.first_seen == contact.last_seen == 1000.0
    assert reloaded.find_by_key(key) == contact
    assert stat.S_IMODE((config_dir / "contacts.json").stat().st_mode) == 0o600


def test_repinning_the_same_key_refreshes_the_secret(config_dir: Path) -> None:
    key = peer_key()
    book = ContactBook()
    pin(book, "bob", key, now=1000.0)
    again = book.pin("bob", key, safety_number(MY_KEY, key), b"\x01" * 32, 2000.0)
    assert again.reconnect_psk == b"\x01" * 32
    assert (again.first_seen, again.last_seen) == (1000.0, 2000.0)
    assert len(ContactBook()) == 1


def test_changed_key_is_refused_with_an_ssh_style_warning(config_dir: Path) -> None:
    old_key, new_key = peer_key(), peer_key()
    book = ContactBook()
    pin(book, "carol", old_key)
    before = (config_dir / "contacts.json").read_bytes()
    with pytest.raises(KeyChanged) as caught:
        pin(book, "carol", new_key)
    message = str(caught.value)
    assert "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY" in message
    assert fingerprint(old_key) in message and fingerprint(new_key) in message
    assert caught.value.pinned_key == old_key and caught.value.offered_key == new_key
    assert (config_dir / "contacts.json").read_bytes() == before
    assert ContactBook().get("carol").identity_key == old_key


def test_known_key_under_another_name_is_refused(config_dir: Path) -> None:
    key = peer_key()
    book = ContactBook()
    pin(book, "dave", key)
    with pytest.raises(KeyAlreadyPinned, match="already pinned as 'dave'") as caught:
        pin(book, "mallory", key)
    assert isinstance(caught.value, KeyChanged)
    assert ContactBook().get("mallory") is None


def test_replace_key_is_the_deliberate_repair(config_dir: Path) -> None:
    old_key, new_key = peer_key(), peer_key()
    book = ContactBook()
    pin(book, "erin", old_key, now=1000.0)
    book.mark_verified("erin")
    book.block("erin")
    replaced = book.replace_key(
        "erin", new_key, safety_number(MY_KEY, new_key), os.urandom(32), 5000.0
    )
    assert replaced.identity_key == new_key
    assert replaced.verified is False  # the old comparison says nothing about the new key
    assert replaced.blocked is True
    assert replaced.first_seen == 5000.0
    reloaded = ContactBook()
    assert reloaded.find_by_key(new_key) == replaced
    assert reloaded.find_by_key(old_key) is None


def test_block_unblock_verify_touch(config_dir: Path) -> None:
    book = ContactBook()
    pin(book, "frank", peer_key(), now=1000.0)
    book.block("frank")
    assert ContactBook().get("frank").blocked
    book.unblock("FRANK")
    assert not ContactBook().get("frank").blocked
    book.mark_verified("frank")
    assert ContactBook().get("frank").verified
    book.mark_verified("frank", False)
    assert not ContactBook().get("frank").verified
    book.touch("frank", 3000.0)
    book.touch("frank", 2000.0)  # an older sighting never moves last_seen back
    assert ContactBook().get("frank").last_seen == 3000.0


def test_rename_and_remove(config_dir: Path) -> None:
    book = ContactBook()
    key = peer_key()
    pin(book, "grace", key)
    pin(book, "heidi", peer_key())
    with pytest.raises(ContactError, match="already a contact named 'heidi'"):
        book.rename("grace", "Heidi")
    book.rename("grace", "Grace Hopper")
    reloaded = ContactBook()
    assert reloaded.get("grace") is None
    assert reloaded.get("grace hopper").identity_key == key
    removed = reloaded.remove("heidi")
    assert removed.petname == "heidi"
    assert [c.petname for c in ContactBook()] == ["Grace Hopper"]
    with pytest.raises(ContactNotFound, match="No contact is named 'heidi'"):
        reloaded.block("heidi")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "a/b",
        "a\\b",
        "..",
        ".",
        "red\x1b[31m",
        "rtl\u202eoverride",
        "x" * 65,
        "new\nline",
    ],
)
def test_invalid_petnames_are_refused(config_dir: Path, bad: str) -> None:
    book = ContactBook()
    with pytest.raises(ContactError):
        pin(book, bad, peer_key())
    assert len(ContactBook()) == 0
    assert sorted(p.name for p in config_dir.iterdir()) == []


def test_petname_is_normalised(config_dir: Path) -> None:
    book = ContactBook()
    contact = pin(book, "  Zoë  ", peer_key())
    assert contact.petname == "Zoë"


def test_two_books_do_not_lose_each_others_changes(config_dir: Path) -> None:
    first, second = ContactBook(), ContactBook()  # as if two processes
    pin(first, "ivan", peer_key())
    pin(second, "judy", peer_key())
    assert sorted(c.petname for c in ContactBook()) == ["ivan", "judy"]


def test_corrupt_file_is_kept_and_copied(config_dir: Path) -> None:
    book = ContactBook()
    pin(book, "kim", peer_key())
    path = config_dir / "contacts.json"
    damaged = path.read_bytes()[:-40]
    path.write_bytes(damaged)
    with pytest.raises(ContactsCorrupt, match="left untouched") as caught:
        ContactBook()
    assert path.read_bytes() == damaged
    backups = list(config_dir.glob("contacts.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == damaged
    assert backups[0].name in str(caught.value)
    with pytest.raises(ContactsCorrupt):
        pin(book, "leo", peer_key())  # a change never overwrites the damaged list
    assert path.read_bytes() == damaged
    assert len(list(config_dir.glob("contacts.json.corrupt-*"))) == 1


def test_malformed_entry_is_corrupt(config_dir: Path) -> None:
    book = ContactBook()
    pin(book, "mia", peer_key())
    path = config_dir / "contacts.json"
    document = json.loads(path.read_text())
    document["contacts"][0]["identity_key"] = base64.b64encode(b"short").decode()
    path.write_text(json.dumps(document))
    with pytest.raises(ContactsCorrupt, match="entry 1 is malformed"):
        ContactBook()


def test_no_conversation_or_secret_in_the_cli_listing(run_cli, config_dir: Path) -> None:
    key, psk = peer_key(), os.urandom(32)
    ContactBook().pin("nina", key, safety_number(MY_KEY, key), psk, 1000.0)
    listed = run_cli("contacts", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["petname"] == "nina" and entry["fingerprint"] == fingerprint(key)
    assert base64.b64encode(psk).decode() not in listed.stdout
    assert base64.b64encode(key).decode() not in listed.stdout
    table = run_cli("contacts")
    assert table.returncode == 0 and "nina" in table.stdout


def test_cli_manages_contacts(run_cli, config_dir: Path) -> None:
    pin(ContactBook(), "oscar", peer_key())
    assert run_cli("contacts", "block", "oscar").returncode == 0
    assert ContactBook().get("oscar").blocked
    assert run_cli("contacts", "unblock", "oscar").returncode == 0
    assert not ContactBook().get("oscar").blocked
    refused = run_cli("contacts", "verify", "oscar")  # no terminal and no --yes
    assert refused.returncode == 2 and not ContactBook().get("oscar").verified
    assert len(refused.stdout.split()) == 12  # the safety number, in groups of five
    assert run_cli("contacts", "verify", "oscar", "--yes").returncode == 0
    assert ContactBook().get("oscar").verified
    assert run_cli("contacts", "rename", "oscar", "Oscar W").returncode == 0
    assert run_cli("contacts", "remove", "Oscar W").returncode == 0
    assert len(ContactBook()) == 0
    missing = run_cli("contacts", "remove", "nobody")
    assert missing.returncode == 2
    assert "No contact is named" in missing.stderr and "Traceback" not in missing.stderr


def test_cli_corrupt_contacts_exit_5(run_cli, config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "contacts.json").write_bytes(b"{not json")
    result = run_cli("contacts")
    assert result.returncode == 5
    assert "unreadable" in result.stderr and "Traceback" not in result.stderr
    assert (config_dir / "contacts.json").read_bytes() == b"{not json"
