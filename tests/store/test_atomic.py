"""write_atomic: old or new content after a crash, never a mixture."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from p2pchat.store.atomic import write_atomic
from p2pchat.store.contacts import ContactBook


def test_write_atomic_replaces_content_with_mode(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomic(target, b"one")
    write_atomic(target, b"two", mode=0o640)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temp file left


def test_exclusive_write_never_clobbers(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_atomic(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def run_child(code: str, config_dir: Path, **kwargs) -> subprocess.Popen[str]:
    env = dict(os.environ, P2PCHAT_CONFIG_DIR=str(config_dir))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_kill_between_write_and_replace_keeps_the_old_contacts(config_dir: Path) -> None:
    child = run_child(
        """
        import os, signal
        from p2pchat.store.contacts import ContactBook
        book = ContactBook()
        book.pin("old", b"\\x01" * 32, "1" * 60, b"\\x02" * 32, 1.0)
        # Die the instant the new file is complete but not yet renamed into place.
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        book.pin("new", b"\\x03" * 32, "2" * 60, b"\\x04" * 32, 2.0)
        print("not reached")
        """,
        config_dir,
    )
    out, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    assert "not reached" not in out
    book = ContactBook()
    assert [c.petname for c in book] == ["old"]
    assert len(list(config_dir.glob(".contacts.json.*.tmp"))) == 1  # the unfinished write
    book.touch("old", 3.0)
    assert list(config_dir.glob(".contacts.json.*.tmp")) == []  # cleaned under the lock


def test_sigkill_while_rewriting_large_books_leaves_a_whole_file(config_dir: Path) -> None:
    # Each generation rewrites 2000 contacts whose names carry the generation number;
    # after the kill every name must come from one and the same generation.
    child = run_child(
        """
        import hashlib
        from p2pchat.store import contact_record as store
        from p2pchat.store.atomic import write_atomic
        from p2pchat.store.paths import contacts_path
        path = contacts_path()
        generation = 0
        while True:
            book = []
            for i in range(2000):
                key = hashlib.sha256(b"%d-%d" % (generation, i)).digest()
                book.append(store.Contact(f"g{generation}-{i}", key, "1" * 60, False, False,
                                          float(generation), float(generation), key))
            write_atomic(path, store.encode(book), 0o600)
            print(generation, flush=True)
            generation += 1
        """,
        config_dir,
    )
    try:
        seen = [int(child.stdout.readline()) for _ in range(4)]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    contacts = ContactBook().contacts
    assert len(contacts) == 2000
    generations = {c.petname.split("-")[0] for c in contacts}
    assert len(generations) == 1
    assert int(generations.pop()[1:]) >= seen[-1]
