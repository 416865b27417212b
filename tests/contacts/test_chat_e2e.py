"""`p2pchat chat` end to end: real processes, real aiortc on loopback, a real mailbox.

A first session pairs with a code and pins both sides; later sessions reconnect
by petname without a code, or are refused (changed key, blocked contact).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.contacts.conftest import Chat, expect_paired, talk_and_leave
from tests.e2e.procs import p2pchat_env

FIRST_WORDS = "hello from alice, first session"
SECOND_WORDS = "it is bob again, no code needed"


def _net(url: str) -> list[str]:
    return ["--mailbox", url, "--loopback"]


def _contacts(config: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "p2pchat", "contacts", "--json"],
        env=p2pchat_env(config),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return list(json.loads(result.stdout))


def _pair_with_code(
    url: str, config_a: Path, config_b: Path, start: Callable[..., Chat], *b_args: str
) -> tuple[Chat, Chat]:
    alice = start(["--invite", "--name", "alice", *_net(url)], config_a)
    code = alice.expect("code: ").removeprefix("code: ")
    bob = start(["--join", "--name", "bob", *b_args, *_net(url)], config_b, P2PCHAT_CODE=code)
    return alice, bob


@pytest.fixture
def start(chats: list[Chat]) -> Callable[..., Chat]:
    def make(args: list[str], config: Path, **env: str) -> Chat:
        chat = Chat(args, config, **env)
        chats.append(chat)
        return chat

    return make


@pytest.fixture(scope="module")
def pinned(mailbox_process: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Alice and Bob after one session with a code: each has pinned the other."""
    config_a = tmp_path_factory.mktemp("alice")
    config_b = tmp_path_factory.mktemp("bob")
    started: list[Chat] = []

    def start(args: list[str], config: Path, **env: str) -> Chat:
        chat = Chat(args, config, **env)
        started.append(chat)
        return chat

    try:
        alice, bob = _pair_with_code(mailbox_process, config_a, config_b, start)
        expect_paired(alice, bob, "new contact pinned")
        talk_and_leave(alice, bob, "alice", FIRST_WORDS)
    finally:
        for chat in started:
            if chat.proc.poll() is None:
                chat.kill()
    return config_a, config_b


def _copy(pinned: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "alice", tmp_path / "bob"
    shutil.copytree(pinned[0], a)
    shutil.copytree(pinned[1], b)
    return a, b


def test_first_session_pins_both_sides(pinned: tuple[Path, Path]) -> None:
    (bob_for_alice,) = _contacts(pinned[0])
    (alice_for_bob,) = _contacts(pinned[1])
    assert bob_for_alice["petname"] == "bob"
    assert alice_for_bob["petname"] == "alice"
    assert bob_for_alice["safety_number"] == alice_for_bob["safety_number"]


def test_pinned_contacts_reconnect_without_a_code(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, config_b = _copy(pinned, tmp_path)
    alice = start(["bob", *_net(mailbox_process)], config_a)
    bob = start(["alice", *_net(mailbox_process)], config_b)
    expect_paired(alice, bob, "known contact")
    talk_and_leave(bob, alice, "bob", SECOND_WORDS)
    # History is in memory only: no file under either config directory holds a message.
    for config in (config_a, config_b, pinned[0], pinned[1]):
        for path in config.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert FIRST_WORDS.encode() not in data, path
                assert SECOND_WORDS.encode() not in data, path


def _secrets(config: Path) -> dict[str, str]:
    (entry,) = json.loads((config / "contacts.json").read_text())["contacts"]
    return {name: entry.get(name, "") for name in ("reconnect_psk", "previous_psk")}


def test_reconnect_ratchets_the_key_and_a_side_that_missed_it_still_meets(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, config_b = _copy(pinned, tmp_path)
    before = _secrets(config_a)["reconnect_psk"]
    alice = start(["bob", *_net(mailbox_process)], config_a)
    bob = start(["alice", *_net(mailbox_process)], config_b)
    expect_paired(alice, bob, "known contact")
    talk_and_leave(bob, alice, "bob", SECOND_WORDS)
    after_a, after_b = _secrets(config_a), _secrets(config_b)
    assert after_a == after_b  # both sides took the same step
    assert after_a["reconnect_psk"] != before and after_a["previous_psk"] == before
    # Bob's contacts.json missed that step (restored from a backup): they still meet.
    shutil.copy(pinned[1] / "contacts.json", config_b / "contacts.json")
    alice = start(["bob", *_net(mailbox_process)], config_a)
    bob = start(["alice", *_net(mailbox_process)], config_b)
    expect_paired(alice, bob, "known contact")
    talk_and_leave(alice, bob, "alice", FIRST_WORDS)
    again_a, again_b = _secrets(config_a), _secrets(config_b)
    assert again_a == again_b and again_a["previous_psk"] == before


def test_a_sealed_identity_seals_the_secrets_and_still_reconnects(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, config_b = _copy(pinned, tmp_path)
    passphrase = {"P2PCHAT_PASSPHRASE": "a long enough passphrase"}
    sealing = subprocess.run(
        [sys.executable, "-m", "p2pchat", "identity", "--seal"],
        env=p2pchat_env(config_a, **passphrase),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sealing.returncode == 0, sealing.stderr
    assert "reconnect_psk" not in (config_a / "contacts.json").read_text()
    alice = start(["bob", *_net(mailbox_process)], config_a, **passphrase)
    bob = start(["alice", *_net(mailbox_process)], config_b)
    expect_paired(alice, bob, "known contact")
    talk_and_leave(bob, alice, "bob", SECOND_WORDS)
    text = (config_a / "contacts.json").read_text()
    assert "reconnect_psk" not in text and "sealed_secrets" in text
    assert _secrets(config_b)["reconnect_psk"] != _secrets(pinned[1])["reconnect_psk"]


def test_changed_identity_on_reconnect_is_refused_with_the_warning(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, config_b = _copy(pinned, tmp_path)
    # Bob's reconnect secret leaked to someone with another identity key.
    (config_b / "identity.key").unlink()
    alice = start(["bob", *_net(mailbox_process)], config_a)
    impostor = start(["alice", *_net(mailbox_process)], config_b)
    impostor.say("trust me")
    code, out, err = alice.finish(timeout=60)
    assert code == 3, err
    assert "HAS CHANGED" in err and "'bob'" in err
    assert "trust me" not in out and "* paired" not in out
    assert impostor.finish(timeout=60)[0] == 3


def test_stranger_using_a_pinned_petname_is_refused_before_any_message(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, _ = _copy(pinned, tmp_path)
    stranger_config = tmp_path / "stranger"
    stranger_config.mkdir()
    alice, stranger = _pair_with_code(mailbox_process, config_a, stranger_config, start)
    stranger.expect("* paired with alice")
    stranger.say("it is me, bob, honest")
    code, out, err = alice.finish(timeout=60)
    assert code == 3, err
    assert "HAS CHANGED" in err
    assert "honest" not in out and "* paired" not in out
    (still_bob,) = _contacts(config_a)
    assert still_bob["fingerprint"] == _contacts(pinned[0])[0]["fingerprint"]


def test_blocked_contact_is_refused(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    config_a, config_b = _copy(pinned, tmp_path)
    subprocess.run(
        [sys.executable, "-m", "p2pchat", "contacts", "block", "bob"],
        env=p2pchat_env(config_a),
        check=True,
        capture_output=True,
        timeout=60,
    )
    # Alice cannot start a reconnect with a blocked contact...
    refused = start(["bob", *_net(mailbox_process)], config_a)
    code, _, err = refused.finish()
    assert code == 3 and "blocked" in err
    # ...and bob pairing with a fresh code is refused before anything he sends shows.
    alice, bob = _pair_with_code(mailbox_process, config_a, config_b, start)
    bob.expect("* paired with alice")
    bob.say("let me in")
    code, out, err = alice.finish(timeout=60)
    assert code == 3 and "blocked" in err
    assert "let me in" not in out and "* paired" not in out


def test_a_new_identity_is_told_as_a_key_change_on_both_sides(
    pinned: tuple[Path, Path], mailbox_process: str, start: Callable[..., Chat], tmp_path: Path
) -> None:
    """Issue 16 §7: after `p2pchat identity --new`, reconnecting told Bob "a wrong code, or
    someone tampered with the exchange", on a meeting that used no code."""
    config_a, config_b = _copy(pinned, tmp_path)
    renewed = subprocess.run(
        [sys.executable, "-m", "p2pchat", "identity", "--new"],
        env=p2pchat_env(config_b),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert renewed.returncode == 0, renewed.stderr
    alice = start(["bob", *_net(mailbox_process)], config_a)
    bob = start(["alice", *_net(mailbox_process)], config_b)
    bob.say("hello with my new key")
    code_a, out_a, err_a = alice.finish(timeout=90)
    code_b, _, err_b = bob.finish(timeout=90)
    # Alice is warned, as for any changed key; nothing Bob sent shows.
    assert code_a == 3 and "HAS CHANGED" in err_a, err_a
    assert "new key" not in out_a and "* paired" not in out_a
    # Bob is told why, in words that fit a meeting without a code.
    assert code_b == 3, err_b
    assert "identity key it has pinned for you is not the one you have now" in err_b
    assert "wrong code" not in err_b and "tampered" not in err_b
