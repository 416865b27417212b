"""ContactGuard (pin / check / refuse) and the evidence export, without a network."""

from __future__ import annotations

import os
from pathlib import Path

import nacl.signing
import pytest

from p2pchat.core import session as core_session
from p2pchat.core.conversation import Conversation
from p2pchat.core.crypto import safety_number
from p2pchat.core.keys import Capabilities, SessionKeys
from p2pchat.service.contact_guard import ContactBlocked, ContactGuard
from p2pchat.service.export import export_evidence
from p2pchat.store.contacts import ContactBook, KeyChanged
from p2pchat.store.petnames import petname_from_label

ME = bytes(nacl.signing.SigningKey.generate().verify_key)


def _keys(label: str = "bob", identity: bytes | None = None, psk: bytes = b"p" * 32) -> SessionKeys:
    peer = identity or bytes(nacl.signing.SigningKey.generate().verify_key)
    return SessionKeys(
        role="offerer",
        send_keys={},
        recv_keys={},
        transcript=b"",
        safety_number=safety_number(ME, peer),
        peer_identity=peer,
        peer_capabilities=Capabilities(label=label),
        reconnect_psk=psk,
    )


@pytest.fixture
def book(tmp_path: Path) -> ContactBook:
    return ContactBook(tmp_path / "contacts.json")


def test_first_pairing_pins_under_the_announced_label(book: ContactBook) -> None:
    keys = _keys("bob")
    guard = ContactGuard(book, clock=lambda: 1000.0)
    guard(keys)
    assert guard.newly_pinned and guard.contact is not None
    pinned = book.get("bob")
    assert pinned is not None and pinned.identity_key == keys.peer_identity
    assert pinned.reconnect_psk == keys.reconnect_psk and pinned.first_seen == 1000.0


def test_user_given_petname_wins(book: ContactBook) -> None:
    ContactGuard(book, petname="Robert")(_keys("bob"))
    assert book.get("Robert") is not None and book.get("bob") is None


def test_known_key_under_a_fresh_code_refreshes_the_psk(book: ContactBook) -> None:
    first = _keys("bob")
    ContactGuard(book)(first)
    again = _keys("renamed-himself", identity=first.peer_identity, psk=b"q" * 32)
    guard = ContactGuard(book)
    guard(again)
    assert not guard.newly_pinned
    assert len(book) == 1 and book.get("bob").reconnect_psk == b"q" * 32  # type: ignore[union-attr]


def test_another_key_for_a_pinned_name_raises_the_warning(book: ContactBook) -> None:
    ContactGuard(book)(_keys("bob"))
    with pytest.raises(KeyChanged, match="HAS CHANGED"):
        ContactGuard(book)(_keys("bob"))


def test_replace_key_is_deliberate(book: ContactBook) -> None:
    ContactGuard(book)(_keys("bob"))
    new = _keys("bob")
    ContactGuard(book, petname="bob", replace_key=True)(new)
    assert book.get("bob").identity_key == new.peer_identity  # type: ignore[union-attr]


def test_blocked_contact_is_refused_even_under_another_label(book: ContactBook) -> None:
    keys = _keys("bob")
    ContactGuard(book)(keys)
    book.block("bob")
    with pytest.raises(ContactBlocked):
        ContactGuard(book)(_keys("totally-not-bob", identity=keys.peer_identity))


def test_reconnect_insists_on_the_pinned_key(book: ContactBook) -> None:
    keys = _keys("bob")
    ContactGuard(book)(keys)
    contact = book.get("bob")
    with pytest.raises(KeyChanged):
        ContactGuard(book, expected=contact)(_keys("bob"))
    guard = ContactGuard(book, expected=contact, clock=lambda: 5e9)
    guard(keys)
    assert book.get("bob").last_seen == 5e9  # type: ignore[union-attr]


def test_nameless_peers_get_distinct_petnames(book: ContactBook) -> None:
    ContactGuard(book)(_keys(""))
    ContactGuard(book)(_keys(""))
    assert sorted(c.petname for c in book) == ["peer", "peer-2"]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("bob", "bob"),
        ("../../etc", "....etc"),
        ("\x1b[31mred", "red"),  # the whole escape sequence goes, not only the ESC
        ("\u3164Al\u200bice\u00ad", "Alice"),  # invisible characters too
        ("", "peer"),
        ("..", "peer"),
        ("a/b\\c", "abc"),
    ],
)
def test_petname_from_label_is_safe(label: str, expected: str) -> None:
    assert petname_from_label(label) == expected


def _conversation() -> Conversation:
    now = iter(range(1_700_000_000, 1_700_000_100))
    conversation = Conversation(lambda: float(next(now)))
    conversation.add_outgoing_text("a" * 16, "stop writing to me")
    conversation.apply(core_session.TextReceived("b" * 16, "I know where you live", 0.0))
    return conversation


def test_export_writes_text_header_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "evidence.txt"
    number = "1" * 60
    export_evidence(_conversation(), target, me="me", peer="bob", safety_number=number)
    text = target.read_text()
    assert "I know where you live" in text and "stop writing to me" in text
    assert "peer: bob" in text and "11111 11111" in text
    assert "other person's words" in text
    assert os.stat(target).st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        export_evidence(_conversation(), target, me="me", peer="bob", safety_number=number)
    target.write_text("old")
    export_evidence(
        _conversation(), target, me="me", peer="bob", safety_number=number, overwrite=True
    )
    assert "I know where you live" in target.read_text()


def test_two_nameless_peers_pinned_at_once_get_two_names(tmp_path: Path) -> None:
    """Issue 20 §6: the free ``peer-N`` was chosen outside the lock, so a second process
    pinning at the same moment took the same name and showed a false key-change warning."""
    path = tmp_path / "contacts.json"
    other_process = ContactBook(path)

    class Racing(ContactBook):
        armed = False

        def reload(self) -> None:
            super().reload()
            if self.armed:  # the other process pins its nameless peer right now
                self.armed = False
                ContactGuard(other_process, clock=lambda: 1000.0)(_keys(""))

    racing = Racing(path)
    racing.armed = True
    guard = ContactGuard(racing, clock=lambda: 1000.0)
    guard(_keys(""))
    assert guard.contact is not None and guard.newly_pinned
    names = sorted(contact.petname for contact in ContactBook(path))
    assert names == ["peer", "peer-2"], names
