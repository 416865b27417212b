"""Contact secrets at rest: sealed with a sealed identity, ratcheted (issue 19 §3)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import nacl.signing
import pytest

from p2pchat.core.crypto import safety_number
from p2pchat.core.handshake import meeting_key
from p2pchat.core.keys import SessionKeys
from p2pchat.service.contact_guard import ContactGuard, unlocked
from p2pchat.store.account import open_book
from p2pchat.store.contact_secrets import secrets_key
from p2pchat.store.contacts import ContactBook, ContactError

ME = nacl.signing.SigningKey.generate()
PEER = bytes(nacl.signing.SigningKey.generate().verify_key)
NUMBER = safety_number(bytes(ME.verify_key), PEER)


def raw_entry(book: ContactBook) -> dict[str, object]:
    (entry,) = json.loads(book.path.read_text())["contacts"]
    return dict(entry)


def test_a_sealed_identitys_book_writes_no_secret_in_clear(config_dir: Path) -> None:
    psk = os.urandom(32)
    book = ContactBook(secrets_key=secrets_key(ME))
    book.pin("bob", PEER, NUMBER, psk, 1000.0)
    text = ContactBook().path.read_bytes()
    for secret in (psk, meeting_key(psk)):
        assert secret.hex().encode() not in text
        assert base64.b64encode(secret) not in text
    entry = raw_entry(book)
    assert "reconnect_psk" not in entry and "sealed_secrets" in entry
    # The owner reads them back; a book without the key sees who, not how to meet.
    assert ContactBook(secrets_key=secrets_key(ME)).get("bob").reconnect_psk == psk  # type: ignore[union-attr]
    locked = ContactBook().get("bob")
    assert locked is not None and locked.locked and locked.reconnect_psk == b""
    with pytest.raises(ContactError, match="sealed"):
        unlocked(locked)
    # Another identity's key does not open them either.
    other = ContactBook(secrets_key=secrets_key(nacl.signing.SigningKey.generate())).get("bob")
    assert other is not None and other.locked


def test_a_book_without_the_key_keeps_sealed_secrets_as_they_are(config_dir: Path) -> None:
    psk = os.urandom(32)
    ContactBook(secrets_key=secrets_key(ME)).pin("bob", PEER, NUMBER, psk, 1000.0)
    sealed = raw_entry(ContactBook())["sealed_secrets"]
    plain = ContactBook()
    plain.rename("bob", "robert")
    plain.block("robert")
    assert raw_entry(plain)["sealed_secrets"] == sealed
    assert ContactBook(secrets_key=secrets_key(ME)).get("robert").reconnect_psk == psk  # type: ignore[union-attr]


def test_a_sealed_blob_moved_to_another_entry_is_refused(config_dir: Path) -> None:
    key = secrets_key(ME)
    book = ContactBook(secrets_key=key)
    book.pin("bob", PEER, NUMBER, os.urandom(32), 1000.0)
    other = bytes(nacl.signing.SigningKey.generate().verify_key)
    book.pin("carol", other, safety_number(bytes(ME.verify_key), other), os.urandom(32), 1000.0)
    document = json.loads(book.path.read_text())
    first, second = document["contacts"]
    first["sealed_secrets"], second["sealed_secrets"] = (
        second["sealed_secrets"],
        first["sealed_secrets"],
    )
    book.path.write_text(json.dumps(document))
    with pytest.raises(ContactError, match="another contact"):
        ContactBook(secrets_key=key)


def test_sealing_later_seals_what_is_already_there(config_dir: Path) -> None:
    psk = os.urandom(32)
    ContactBook().pin("bob", PEER, NUMBER, psk, 1000.0)
    assert "reconnect_psk" in raw_entry(ContactBook())
    open_book(ME, sealed=True).reseal()
    assert "reconnect_psk" not in raw_entry(ContactBook())
    assert open_book(ME, sealed=True).get("bob").reconnect_psk == psk  # type: ignore[union-attr]


def test_old_files_without_the_new_fields_still_load(config_dir: Path) -> None:
    psk = os.urandom(32)
    book = ContactBook()
    book.pin("bob", PEER, NUMBER, psk, 1000.0)
    document = json.loads(book.path.read_text())
    for name in ("previous_psk", "meeting_key"):
        del document["contacts"][0][name]
    book.path.write_text(json.dumps(document))
    contact = ContactBook().get("bob")
    assert contact is not None and contact.meeting_key == meeting_key(psk)


def _reconnect_keys(new: bytes, used: bytes) -> SessionKeys:
    return SessionKeys(
        role="offerer",
        send_keys={},
        recv_keys={},
        transcript=b"",
        safety_number=NUMBER,
        peer_identity=PEER,
        reconnect_psk=new,
        previous_psk=used,
    )


@pytest.mark.parametrize("sealed", [False, True])
def test_a_reconnect_that_bound_ratchets_the_stored_key(config_dir: Path, sealed: bool) -> None:
    psk = os.urandom(32)
    book = open_book(ME, sealed=sealed)
    contact = book.pin("bob", PEER, NUMBER, psk, 1000.0)
    point = contact.meeting_key
    new = os.urandom(32)
    ContactGuard(book, expected=contact)(_reconnect_keys(new, psk))
    after = open_book(ME, sealed=sealed).get("bob")
    assert after is not None
    assert (after.reconnect_psk, after.previous_psk) == (new, psk)
    assert after.meeting_key == point  # where to meet does not move with the ratchet
    # A fresh code pairing starts a new chain: no fallback, a new meeting point.
    fresh = os.urandom(32)
    repinned = book.pin("bob", PEER, NUMBER, fresh, 2000.0)
    assert (repinned.reconnect_psk, repinned.previous_psk) == (fresh, b"")
    assert repinned.meeting_key == meeting_key(fresh)


def test_a_sealed_file_says_it_needs_a_newer_reader(config_dir: Path) -> None:
    # An older p2pchat reads "version 2: written by a newer p2pchat", not "corrupt entry".
    ContactBook().pin("bob", PEER, NUMBER, os.urandom(32), 1000.0)
    assert json.loads(ContactBook().path.read_text())["version"] == 1
    open_book(ME, sealed=True).reseal()
    assert json.loads(ContactBook().path.read_text())["version"] == 2
    ContactBook().rename("bob", "robert")  # still sealed inside: stays version 2
    assert json.loads(ContactBook().path.read_text())["version"] == 2
