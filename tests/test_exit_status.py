"""Every error carries its documented exit code: no table maps errors to codes."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import p2pchat
from p2pchat.core.errors import P2PChatError, exit_code_of
from p2pchat.core.exit_status import (
    EXIT_CODES,
    EXIT_FAILURE,
    EXIT_INPUT_REJECTED,
    EXIT_PAIRING_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
)


def _all_error_classes() -> set[type[P2PChatError]]:
    for info in pkgutil.walk_packages(p2pchat.__path__, "p2pchat."):
        if ".tui" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found: set[type[P2PChatError]] = set()
    todo: list[type[P2PChatError]] = [P2PChatError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_travels_with_a_documented_exit_code():
    classes = _all_error_classes()
    assert len(classes) > 20
    for cls in classes:
        assert cls.exit_code in EXIT_CODES, cls


@pytest.mark.parametrize(
    ("path", "name", "code"),
    [
        ("p2pchat.store.contacts", "KeyChanged", EXIT_PAIRING_FAILED),
        ("p2pchat.store.contacts", "KeyAlreadyPinned", EXIT_PAIRING_FAILED),
        ("p2pchat.store.contacts", "ContactsCorrupt", EXIT_INPUT_REJECTED),
        ("p2pchat.store.contacts", "ContactNotFound", EXIT_USAGE),
        ("p2pchat.store.identity", "IdentityCorrupt", EXIT_INPUT_REJECTED),
        ("p2pchat.store.identity", "WrongPassphrase", EXIT_USAGE),
        ("p2pchat.store.identity", "PassphraseRequired", EXIT_USAGE),
        ("p2pchat.store.settings", "SettingsError", EXIT_USAGE),
        ("p2pchat.store.paths", "ConfigUnavailable", EXIT_USAGE),
        ("p2pchat.service.contact_guard", "ContactBlocked", EXIT_PAIRING_FAILED),
        ("p2pchat.core.handshake.reconnect_wire", "IdentityMismatch", EXIT_PAIRING_FAILED),
        ("p2pchat.core.errors", "WrongCode", EXIT_PAIRING_FAILED),
        ("p2pchat.core.errors", "PeerLost", EXIT_PEER_LOST),
        ("p2pchat.media.budget", "BudgetFull", EXIT_INPUT_REJECTED),
        ("p2pchat.net.mailbox_protocol", "MailboxRefused", EXIT_PEER_LOST),
    ],
)
def test_store_and_pairing_errors_carry_their_code(path, name, code):
    cls = getattr(importlib.import_module(path), name)
    assert cls.exit_code == code


def test_errors_outside_the_hierarchy():
    assert exit_code_of(FileNotFoundError("photo.jpg")) == EXIT_INPUT_REJECTED
    assert exit_code_of(RuntimeError("a bug")) == EXIT_FAILURE
