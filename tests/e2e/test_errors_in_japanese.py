"""Real failures read in Japanese on the command line (issue 16 §2).

Each is a real process with ``LANG=ja_JP.UTF-8``: a wrong code between two real
peers through the real mailbox process on 127.0.0.1, a photo that is not an
image, a blocked contact and a name already taken. Before, the error classes of the
core, store and service layers reached stderr in English whatever the language.
"""

from __future__ import annotations

import re
from pathlib import Path

import nacl.signing
import pytest

from p2pchat.core.wordlist import ODD_WORDS
from p2pchat.service.contacts import Contacts
from tests.e2e.procs import finish, p2pchat_env, read_line, spawn

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def japanese_env(config: Path, **extra: str) -> dict[str, str]:
    env = p2pchat_env(config, **extra)
    for name in [n for n in env if n.startswith(("LC_", "LANG"))]:
        del env[name]
    env["LANG"] = "ja_JP.UTF-8"
    return env


def the_error(stderr: str) -> str:
    """The last line the command wrote to stderr: its error."""
    return stderr.strip().splitlines()[-1]


def test_a_wrong_code_reads_in_japanese_on_both_sides(
    mailbox_process: str, config_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    sender = spawn(
        ["send", "--mailbox", mailbox_process, "--loopback", "--text", "secret"],
        japanese_env(config_dirs[0]),
    )
    code = read_line(sender, timeout=60).split()[-1]
    nameplate, *words = code.split("-")
    words[1] = next(w for w in ODD_WORDS if w != words[1])  # the 2nd word is an odd one
    receiver = spawn(
        ["receive", "--mailbox", mailbox_process, "--loopback", "--out", str(tmp_path)],
        japanese_env(config_dirs[1], P2PCHAT_CODE="-".join([nameplate, *words])),
    )
    s_code, _, s_err = finish(sender, timeout=60)
    r_code, _, r_err = finish(receiver, timeout=60)
    assert (s_code, r_code) == (3, 3), (s_err, r_err)
    for stderr in (s_err, r_err):
        assert "コード" in the_error(stderr), stderr
        assert "wrong" not in stderr.lower()


def test_a_photo_that_is_not_an_image_reads_in_japanese(tmp_path: Path) -> None:
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not really a picture" * 10)
    done = finish(spawn(["inspect", str(photo)], japanese_env(tmp_path)), timeout=60)
    code, _, stderr = done
    assert code == 5, stderr
    assert JAPANESE.search(the_error(stderr)), stderr
    assert "not an image" not in stderr


@pytest.fixture
def blocked_alice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(config))
    _, contacts = Contacts.load()
    alice = nacl.signing.SigningKey(bytes(range(32))).verify_key
    contacts.pin("alice", bytes(alice), " ".join(["12345"] * 12), bytes(32))
    contacts.block("alice")
    bob = nacl.signing.SigningKey(bytes(range(32, 64))).verify_key
    contacts.pin("bob", bytes(bob), " ".join(["12345"] * 12), bytes(range(32)))
    return config


def test_a_blocked_contact_reads_in_japanese(blocked_alice: Path) -> None:
    done = finish(spawn(["chat", "alice"], japanese_env(blocked_alice)), timeout=60)
    code, _, stderr = done
    assert code == 3, stderr
    assert "ブロック" in the_error(stderr) and "alice" in the_error(stderr), stderr
    assert "is blocked" not in stderr


def test_a_name_already_taken_reads_in_japanese(blocked_alice: Path) -> None:
    done = finish(spawn(["contacts", "rename", "alice", "bob"], japanese_env(blocked_alice)))
    code, _, stderr = done
    assert code != 0
    assert "bob" in stderr and JAPANESE.search(the_error(stderr)), stderr
    assert "already" not in stderr


def test_the_exit_code_table_of_help_reads_in_japanese(tmp_path: Path) -> None:
    from p2pchat.core.exit_status import EXIT_CODES

    code, out, stderr = finish(spawn(["--help"], japanese_env(tmp_path)))
    assert code == 0, stderr
    table = out.split("終了コード:")[1]
    rows = [line.split(maxsplit=1) for line in table.strip().splitlines()]
    assert [int(number) for number, _ in rows] == list(EXIT_CODES)
    assert all(JAPANESE.search(meaning) for _, meaning in rows), table
