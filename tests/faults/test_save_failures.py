"""A received photo that cannot be saved is an error, never a silent loss (issue 20 §1).

A full disk used to kill the headless event pump (later texts never arrived, exit 0)
while the sender had "delivered"; `receive --out` printed a traceback after the
sender said "done". Now the receiver reports the photo and carries on, the sender is
told it was not kept, and both exit non-zero. The save folder is checked at start,
and two savers in one folder in the same second never collide.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from p2pchat.store import received_files
from tests.e2e.procs import CORPUS, p2pchat_env, spawn
from tests.e2e.test_relay import Lines, command, exit_status, headless_peer

PHOTO = CORPUS / "canon-t3i-serials.jpg"  # re-encoded it stays far above 64 KiB
DEAD_MAILBOX = "ws://127.0.0.1:9/v1"


def test_headless_on_a_full_disk_reports_the_photo_and_carries_on(
    mailbox_process: str, config_dirs: tuple[Path, Path], small_disk: Callable[..., Path]
) -> None:
    disk = small_disk()
    receiver = spawn(
        ["headless", "--invite", "--mailbox", mailbox_process, "--loopback", "--save-dir", disk],
        p2pchat_env(config_dirs[0]),
        stdin=subprocess.PIPE,
    )
    r_lines = Lines(receiver)
    code, _ = r_lines.until("code")
    sender = headless_peer(mailbox_process, config_dirs[1], code["code"])
    s_lines = Lines(sender)
    s_lines.until("paired")
    r_lines.until("paired")

    command(sender, "send_image", path=str(PHOTO))
    sent, _ = s_lines.until("sent")
    cancelled, seen = s_lines.until("cancelled", timeout=60)
    assert cancelled["message_id"] == sent["message_id"] and cancelled["by_peer"] is True
    assert not [e for e in seen if e["event"] == "delivered"], seen

    error, seen = r_lines.until("error", timeout=30)
    assert error["fatal"] is False and error["message_id"] == sent["message_id"]
    assert "not kept" in error["message"] and "space" in error["message"], error
    assert not [e for e in seen if e["event"] == "image"]

    # The session carries on: a text after the failure still arrives and is delivered.
    command(sender, "send_text", text="still here")
    r_lines.text("still here", timeout=30)
    s_lines.until("delivered", timeout=30)

    command(sender, "close")
    s_code, s_err = exit_status(sender)
    assert s_code == 4, s_err  # a photo was sent but not kept
    r_lines.until("peer_left", timeout=30)
    r_code, r_err = exit_status(receiver)
    assert r_code == 6, r_err
    assert "Traceback" not in r_err + s_err
    assert not [p for p in disk.iterdir()], "a partial file was left behind"


def test_receive_out_on_a_full_disk_tells_both_sides(
    mailbox_process: str, config_dirs: tuple[Path, Path], small_disk: Callable[..., Path]
) -> None:
    disk = small_disk()
    sender = spawn(
        ["send", "--mailbox", mailbox_process, "--loopback", str(PHOTO)],
        p2pchat_env(config_dirs[0]),
    )
    s_lines = Lines(sender)
    code = s_lines.line().removeprefix("code: ")
    receiver = spawn(
        ["receive", "--mailbox", mailbox_process, "--loopback", "--out", str(disk)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=code),
    )
    r_lines = Lines(receiver)
    s_code, s_err = exit_status(sender, timeout=90)
    s_out = "\n".join(s_lines.remaining())
    r_code, r_err = exit_status(receiver, timeout=90)
    assert s_code == 4, (s_out, s_err)
    assert "everything was delivered" not in s_out
    assert "not kept" in s_err or "could not save" in s_err, s_err
    assert r_code == 6, (r_lines.remaining(), r_err)
    assert "not kept" in r_err and "Traceback" not in r_err, r_err


@pytest.mark.parametrize(
    "argv", [["headless", "--invite"], ["receive", "--code", "7-aardvark-adroitness-absurd"]]
)
def test_a_read_only_save_folder_is_refused_at_start(
    argv: list[str], tmp_path: Path, small_disk: Callable[..., Path]
) -> None:
    disk = small_disk("ro")
    flag = "--save-dir" if argv[0] == "headless" else "--out"
    result = subprocess.run(
        [*spawn_argv(), *argv, "--mailbox", DEAD_MAILBOX, "--loopback", flag, str(disk)],
        env=p2pchat_env(tmp_path / "config"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Cannot write" in result.stderr and "Traceback" not in result.stderr


def spawn_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "p2pchat"]


def test_check_writable_refuses_a_read_only_folder(small_disk: Callable[..., Path]) -> None:
    disk = small_disk("ro")
    with pytest.raises(received_files.SaveFailed, match="Cannot write"):
        received_files.check_writable(disk)


def test_a_taken_partial_name_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "strftime", lambda _format: "20260101-000000")
    # Another receiver is writing this very name right now.
    (tmp_path / ".p2pchat-20260101-000000-001.jpg.part").write_bytes(b"")
    saved = received_files.save_received(tmp_path, b"photo", "image/jpeg", 1)
    assert saved.read_bytes() == b"photo"
    assert saved.name == "p2pchat-20260101-000000-001-1.jpg"


def test_many_savers_in_one_folder_in_one_second_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "strftime", lambda _format: "20260101-000000")
    start = threading.Barrier(6)
    saved: list[Path] = []
    failures: list[BaseException] = []

    def saver(worker: int) -> None:
        start.wait()
        for index in range(20):
            try:
                data = bytes([worker]) * 4096
                saved.append(received_files.save_received(tmp_path, data, "image/png", index))
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=saver, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures[:3]
    assert len(saved) == 120 and len(set(saved)) == 120
    assert sorted(tmp_path.iterdir()) == sorted(saved)
