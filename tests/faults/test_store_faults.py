"""The configuration folder in bad shape: one clear sentence and an exit code, no traceback.

Issue 20 §5: each of these printed a traceback. Unreadable input (a damaged or
unreadable file) is exit 5; a configuration folder that cannot be used (a file in
its place, read-only, a parent nobody can write) is exit 2. Tests run as root, so
"unreadable" is made with folders, dangling links and read-only mounts, not modes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.procs import p2pchat_env

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def p2pchat(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *args],
        env=p2pchat_env(config_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_sentence(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_contacts_nested_a_hundred_thousand_deep(tmp_path: Path) -> None:
    (tmp_path / "contacts.json").write_text("[" * 100_000 + "]" * 100_000)
    assert_one_sentence(p2pchat(tmp_path, "contacts"), 5, "contacts.json", "damaged")


def test_contacts_file_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "contacts.json").mkdir()
    assert_one_sentence(p2pchat(tmp_path, "contacts"), 5, "contacts.json", "directory")


def test_identity_file_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "identity.key").mkdir()
    assert_one_sentence(p2pchat(tmp_path, "identity"), 5, "identity.key", "directory")


def test_dangling_identity_link(tmp_path: Path) -> None:
    (tmp_path / "identity.key").symlink_to(tmp_path / "gone" / "identity.key")
    assert_one_sentence(p2pchat(tmp_path, "identity"), 5, "identity.key", "does not exist")
    assert not (tmp_path / "gone").exists()


def test_config_path_that_is_a_file(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("not a folder")
    assert_one_sentence(p2pchat(config, "identity"), 2, "not a folder")


def test_read_only_config_folder(small_disk: Callable[..., Path]) -> None:
    disk = small_disk("ro")
    assert_one_sentence(p2pchat(disk, "identity"), 2, "read-only")


def test_config_folder_under_a_parent_nobody_can_write(small_disk: Callable[..., Path]) -> None:
    disk = small_disk("ro")
    assert_one_sentence(p2pchat(disk / "p2pchat", "identity"), 2, "could not be created")


def test_full_config_folder_when_pinning(small_disk: Callable[..., Path]) -> None:
    from p2pchat.store.contacts import ContactBook
    from p2pchat.store.paths import ConfigUnavailable

    disk = small_disk()
    book = ContactBook(disk / "contacts.json")
    with (disk / "filler").open("wb", buffering=0) as filler, pytest.raises(OSError):
        while True:  # fill the disk to the last block
            filler.write(b"\0" * 4096)
    with pytest.raises(ConfigUnavailable, match=r"could not be saved.*space"):
        book.pin("friend", b"\1" * 32, "1" * 60, b"p" * 32)
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_pinning_on_a_read_only_config_folder_is_one_sentence_and_exit_2(
    mailbox_process: str, tmp_path: Path, small_disk: Callable[..., Path]
) -> None:
    from tests.e2e.procs import spawn
    from tests.e2e.test_relay import Lines, exit_status

    disk = small_disk()
    assert p2pchat(disk, "identity").returncode == 0  # an identity, then the disk goes ro
    subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
    net = ["--mailbox", mailbox_process, "--loopback"]
    alice = spawn(["chat", "--invite", *net], p2pchat_env(disk), stdin=subprocess.PIPE)
    a_lines = Lines(alice)
    code = a_lines.line().removeprefix("code: ")
    bob_config = tmp_path / "bob"
    bob = spawn(
        ["chat", "--join", *net], p2pchat_env(bob_config, P2PCHAT_CODE=code), stdin=subprocess.PIPE
    )
    b_lines = Lines(bob)
    a_code, a_err = exit_status(alice, timeout=90)
    assert a_code == 2, a_err
    assert "Traceback" not in a_err and "could not be saved" in a_err, a_err
    assert "read-only" in a_err, a_err
    # Bob is told why, in Alice's encrypted goodbye (it used to be only "the peer closed
    # the connection", exit 4): a goodbye with a reason, no traceback.
    b_code, b_err = exit_status(bob, timeout=90)
    remaining = b_lines.remaining()
    assert b_code in (0, 4) and "Traceback" not in b_err, (b_err, remaining)
    told = b_err + "\n".join(remaining)
    assert "could not save you as a contact" in told, (b_err, remaining)


@pytest.mark.parametrize(
    ("name", "command"), [("identity.key", "identity"), ("contacts.json", "contacts")]
)
def test_a_file_the_user_cannot_read(name: str, command: str) -> None:
    """Root reads everything: the command runs as nobody (setpriv), the file stays root's."""
    import os
    import shutil
    import tempfile

    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run p2pchat as another user")
    config = Path(tempfile.mkdtemp(prefix="p2pchat-unreadable-"))
    try:
        config.chmod(0o755)
        os.chown(config, 65534, 65534)
        (config / name).write_text("secret")
        (config / name).chmod(0o600)
        result = subprocess.run(
            [*AS_NOBODY, sys.executable, "-m", "p2pchat", command],
            env=p2pchat_env(config, HOME=str(config)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(config)
    assert_one_sentence(result, 5, name, "permission denied")
