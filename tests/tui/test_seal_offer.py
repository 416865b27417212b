"""First run in the app: the offer to seal the new identity with a passphrase (issue 19 §3).

The real identity store and contact book in a temporary directory; the app runs
with ``App.run_test()``. Sealing runs argon2id for real (about a second).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from p2pchat.cli.cmd_tui import _seal_offer
from p2pchat.core.crypto import safety_number
from p2pchat.store import identity as store
from p2pchat.store.contacts import ContactBook
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.seal import SealDialog

from .helpers import text_of
from .test_loopback import until
from .test_offline import offline_app

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def first_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path))
    identity = store.load_or_create(path=tmp_path / "identity.key", ask=lambda: None)
    assert identity.created and not identity.sealed
    book = ContactBook(tmp_path / "contacts.json")
    peer = os.urandom(32)
    book.pin("bob", peer, safety_number(identity.public, peer), os.urandom(32), 1000.0)
    return identity, book


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    pilot.app.screen.query_one(selector, Input).focus()
    await pilot.press(*text)


async def test_first_run_offers_sealing_and_seals_identity_and_contacts(first_run) -> None:  # type: ignore[no-untyped-def]
    identity, book = first_run
    app = offline_app(seal_offer=_seal_offer(identity, book))
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, SealDialog), "the sealing offer")
        await type_into(pilot, "#seal-passphrase", PASSPHRASE)
        await type_into(pilot, "#seal-again", PASSPHRASE[:-1] + "X")
        await pilot.press("enter")
        await pilot.pause()
        assert "differ" in text_of(app.screen.query_one("#seal-error", Static))
        assert isinstance(app.screen, SealDialog)
        app.screen.query_one("#seal-again", Input).value = ""
        await type_into(pilot, "#seal-again", PASSPHRASE)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, HomeScreen), "back home")
        await until(lambda: store.is_sealed(identity.path), "the identity sealed")
        await until(
            lambda: "sealed_secrets" in book.path.read_text(), "the contacts' secrets sealed"
        )
    assert store.load(PASSPHRASE, path=identity.path).public == identity.public
    (entry,) = json.loads(book.path.read_text())["contacts"]
    assert "reconnect_psk" not in entry


async def test_sealing_can_be_skipped(first_run) -> None:  # type: ignore[no-untyped-def]
    identity, book = first_run
    app = offline_app(seal_offer=_seal_offer(identity, book))
    async with app.run_test() as pilot:
        await until(lambda: isinstance(app.screen, SealDialog), "the sealing offer")
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, HomeScreen), "back home")
    assert not store.is_sealed(identity.path)


def test_no_offer_for_an_identity_that_existed_or_is_sealed(first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    identity, book = first_run
    again = store.load(path=identity.path, ask=lambda: None)
    assert _seal_offer(again, book) is None  # not the first run
    assert _seal_offer(None, book) is None  # no store at all
