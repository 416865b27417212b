"""The identity key on disk: persistence, permissions, sealing, corruption."""

from __future__ import annotations

import json
import logging
import stat
import unicodedata
from pathlib import Path

import nacl.pwhash.argon2id as argon2id
import pytest

from p2pchat.core.crypto import fingerprint
from p2pchat.store import identity
from p2pchat.store.identity import IdentityCorrupt, PassphraseRequired, WrongPassphrase

# The cheapest argon2id costs keep the tests fast; the format records them per file.
FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def no_prompt() -> str | None:
    return None


def test_identity_survives_restart_with_private_modes(config_dir: Path) -> None:
    first = identity.load_or_create(ask=no_prompt)
    assert first.created
    second = identity.load_or_create(ask=no_prompt)
    assert not second.created
    assert second.public == first.public
    assert len(second.public) == 32
    assert second.fingerprint == fingerprint(first.public)
    assert mode_of(config_dir / "identity.key") == 0o600
    assert mode_of(config_dir) == 0o700


def test_signing_key_round_trips(config_dir: Path) -> None:
    made = identity.load_or_create(ask=no_prompt)
    loaded = identity.load(ask=no_prompt)
    signed = made.signing_key.sign(b"hello")
    assert loaded.signing_key.verify_key.verify(signed) == b"hello"


def test_sealed_identity_needs_the_right_passphrase(config_dir: Path) -> None:
    made = identity.create("correct horse", **FAST)
    assert made.sealed
    raw = (config_dir / "identity.key").read_bytes()
    assert bytes(made.signing_key) not in raw
    assert identity.load("correct horse").public == made.public
    with pytest.raises(WrongPassphrase, match="Wrong passphrase"):
        identity.load("wrong horse")
    with pytest.raises(PassphraseRequired, match="P2PCHAT_PASSPHRASE"):
        identity.load_or_create(ask=no_prompt)
    assert (config_dir / "identity.key").read_bytes() == raw


def test_passphrase_is_unicode_normalised(config_dir: Path) -> None:
    composed = unicodedata.normalize("NFC", "café naïve")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    made = identity.create(composed, **FAST)
    assert identity.load(decomposed).public == made.public


def test_passphrase_from_environment(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = identity.create("from env", **FAST)
    monkeypatch.setenv("P2PCHAT_PASSPHRASE", "from env")
    assert identity.load_or_create().public == made.public


def test_seal_an_existing_identity(config_dir: Path) -> None:
    plain = identity.load_or_create(ask=no_prompt)
    sealed = identity.save(plain, "later", **FAST)
    assert sealed.sealed and identity.is_sealed()
    assert identity.load("later").public == plain.public


def test_empty_passphrase_is_refused(config_dir: Path) -> None:
    with pytest.raises(identity.IdentityError, match="empty passphrase"):
        identity.create("", **FAST)
    assert not (config_dir / "identity.key").exists()


def valid_file_bytes(config_dir: Path) -> bytes:
    identity.load_or_create(ask=no_prompt)
    return (config_dir / "identity.key").read_bytes()


@pytest.mark.parametrize(
    "damage",
    [
        lambda good: good[: len(good) // 2],
        lambda good: b"",
        lambda good: b"\x00\xff" * 40,
        lambda good: good.replace(b'"sealed": false', b'"sealed": "no"'),
        lambda good: good.replace(b'"version": 1', b'"version": 0'),
        lambda good: good[:-30] + b"!!!!" + good[-26:],
    ],
    ids=["truncated", "empty", "garbage", "bad-field", "bad-version", "bad-base64"],
)
def test_corrupt_file_is_reported_and_never_replaced(config_dir: Path, damage) -> None:
    path = config_dir / "identity.key"
    damaged = damage(valid_file_bytes(config_dir))
    path.write_bytes(damaged)
    with pytest.raises(IdentityCorrupt, match="left untouched"):
        identity.load_or_create(ask=no_prompt)
    assert path.read_bytes() == damaged
    with pytest.raises(FileExistsError):
        identity.create()
    assert path.read_bytes() == damaged


def test_mismatched_public_key_is_corrupt(config_dir: Path) -> None:
    path = config_dir / "identity.key"
    good = valid_file_bytes(config_dir)
    record = json.loads(good[len(identity.MAGIC) :])
    record["public"] = "A" * 43 + "="
    path.write_bytes(identity.MAGIC + json.dumps(record).encode())
    with pytest.raises(IdentityCorrupt, match="does not match"):
        identity.load()


def test_absurd_kdf_cost_is_refused_before_deriving(config_dir: Path) -> None:
    path = config_dir / "identity.key"
    identity.create("pw", **FAST)
    record = json.loads(path.read_bytes()[len(identity.MAGIC) :])
    record["kdf"]["memlimit"] = 1 << 40
    path.write_bytes(identity.MAGIC + json.dumps(record).encode())
    with pytest.raises(IdentityCorrupt, match="allowed range"):
        identity.load("pw")


def test_newer_format_asks_for_an_upgrade(config_dir: Path) -> None:
    path = config_dir / "identity.key"
    good = valid_file_bytes(config_dir)
    path.write_bytes(good.replace(b'"version": 1', b'"version": 7'))
    with pytest.raises(identity.IdentityError, match="newer p2pchat"):
        identity.load()


def test_oversized_file_is_refused(config_dir: Path) -> None:
    path = config_dir / "identity.key"
    config_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * (identity.MAX_FILE_BYTES + 1))
    with pytest.raises(IdentityCorrupt, match="more than"):
        identity.load()


def test_loose_permissions_are_fixed_with_a_warning(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = identity.load_or_create(ask=no_prompt)
    path = config_dir / "identity.key"
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="p2pchat.store.identity"):
        again = identity.load()
    assert again.public == made.public
    assert mode_of(path) == 0o600
    assert "readable by other users" in caplog.text


# the command line


def test_cli_creates_once_then_shows_the_same_fingerprint(run_cli, config_dir: Path) -> None:
    first = run_cli("identity")
    assert first.returncode == 0, first.stderr
    assert "created a new identity" in first.stderr
    second = run_cli("identity", "--json")
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stderr
    record = json.loads(second.stdout)
    assert record["fingerprint"] == first.stdout.strip()
    assert record["sealed"] is False and record["created"] is False
    assert record["fingerprint"] == identity.load().fingerprint


def test_cli_wrong_passphrase_is_a_clear_usage_error(run_cli, config_dir: Path) -> None:
    made = identity.create("right one", **FAST)
    wrong = run_cli("identity", env={"P2PCHAT_PASSPHRASE": "wrong one"})
    assert wrong.returncode == 2
    assert "Wrong passphrase" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert wrong.stdout == ""
    missing = run_cli("identity")
    assert missing.returncode == 2
    assert "sealed with a passphrase" in missing.stderr
    assert "Traceback" not in missing.stderr
    right = run_cli("identity", "--passphrase-env", "MY_SECRET", env={"MY_SECRET": "right one"})
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip() == made.fingerprint


def test_cli_corrupt_identity_exits_5_and_keeps_the_file(run_cli, config_dir: Path) -> None:
    path = config_dir / "identity.key"
    damaged = valid_file_bytes(config_dir)[:20]
    path.write_bytes(damaged)
    result = run_cli("identity")
    assert result.returncode == 5
    assert "unreadable" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == damaged


def test_cli_seal_then_load_with_the_passphrase(run_cli, config_dir: Path) -> None:
    plain = identity.load_or_create(ask=no_prompt)
    sealed = run_cli("identity", "--seal", env={"P2PCHAT_PASSPHRASE": "sealed now"})
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.strip() == plain.fingerprint
    assert identity.is_sealed()
    assert identity.load("sealed now").public == plain.public


def test_cli_new_identity_keeps_a_backup(run_cli, config_dir: Path) -> None:
    old_bytes = valid_file_bytes(config_dir)
    old = identity.load()
    result = run_cli("identity", "--new")
    assert result.returncode == 0, result.stderr
    assert "key-change warning" in result.stderr
    assert result.stdout.strip() != old.fingerprint
    backups = list(config_dir.glob("identity.key.old-*"))
    assert [b.read_bytes() for b in backups] == [old_bytes]
    assert identity.load().public != old.public


def test_cli_says_plainly_whether_the_identity_is_sealed(run_cli, config_dir: Path) -> None:
    clear = run_cli("identity")
    assert clear.returncode == 0, clear.stderr
    assert "NOT sealed" in clear.stderr and "p2pchat identity --seal" in clear.stderr
    assert len(clear.stdout.splitlines()) == 1  # stdout stays the fingerprint alone
    sealed = run_cli("identity", "--seal", env={"P2PCHAT_PASSPHRASE": "sealed now"})
    assert sealed.returncode == 0, sealed.stderr
    shown = run_cli("identity", env={"P2PCHAT_PASSPHRASE": "sealed now"})
    assert "is sealed with a passphrase" in shown.stderr and "NOT" not in shown.stderr


def test_cli_seal_also_seals_the_contacts_secrets(run_cli, config_dir: Path) -> None:
    import json
    import os

    from p2pchat.core.crypto import safety_number
    from p2pchat.store.contacts import ContactBook

    first = run_cli("identity", "--json")
    assert first.returncode == 0, first.stderr
    peer = os.urandom(32)
    psk = os.urandom(32)
    ContactBook().pin("bob", peer, safety_number(bytes(32), peer), psk, 1000.0)
    sealed = run_cli("identity", "--seal", env={"P2PCHAT_PASSPHRASE": "sealed now"})
    assert sealed.returncode == 0, sealed.stderr
    (entry,) = json.loads((config_dir / "contacts.json").read_text())["contacts"]
    assert "reconnect_psk" not in entry and "sealed_secrets" in entry
    listed = run_cli("contacts", "--json")  # listing needs no passphrase
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["petname"] == "bob"
