"""Fuzzing the files p2pchat reads back: ``contacts.json``, ``identity.key``, ``settings.toml``.

Anyone with access to the folder (a sync tool, a bad disk, a curious program) can
leave any bytes there. Inputs: mutations of real files of each kind (written by
the store itself) and very deep nesting (a ``RecursionError`` was the bug of issue
20 section 5). Every input must load or be refused with a ``P2PChatError``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.store import identity
from p2pchat.store import settings as store_settings
from p2pchat.store.contacts import ContactBook
from tests.fuzz.conftest import assert_only_p2pchat_errors, mutated

FAST = settings(max_examples=150, deadline=None, database=None)


def _seeds() -> dict[str, list[bytes]]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        book = ContactBook(root / "contacts.json")
        book.pin("alice", b"\1" * 32, "1" * 60, b"p" * 32, 1000.0)
        book.pin("bob", b"\2" * 32, "2" * 60, b"q" * 32, 1000.0)
        identity.create(path=root / "identity.key")
        store_settings.save(
            store_settings.Settings(turn_url="turn:127.0.0.1:3478", relay_only=True),
            root / "settings.toml",
        )
        deep = b"[" * 50_000 + b"]" * 50_000
        magic = identity.MAGIC
        return {
            "contacts.json": [(root / "contacts.json").read_bytes(), deep],
            "identity.key": [(root / "identity.key").read_bytes(), magic + deep],
            "settings.toml": [(root / "settings.toml").read_bytes(), b"stun_urls = " + deep],
        }


SEEDS = _seeds()


def _load(name: str, path: Path) -> object:
    if name == "contacts.json":
        return ContactBook(path)
    if name == "identity.key":
        return identity.load(path=path, ask=lambda: None)
    return store_settings.load(path, environ={})


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_fuzz_store_files(name: str) -> None:
    @given(data=mutated(SEEDS[name]))
    @FAST
    def run(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            assert_only_p2pchat_errors(f"store {name}", lambda: _load(name, path), data)

    run()


@given(depth=st.integers(1_000, 200_000))
@settings(max_examples=5, deadline=None, database=None)
def test_deep_nesting_is_refused_cleanly(depth: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.json"
        path.write_bytes(b'{"a":' * depth + b"1" + b"}" * depth)
        assert_only_p2pchat_errors("store deep", lambda: ContactBook(path), depth)
