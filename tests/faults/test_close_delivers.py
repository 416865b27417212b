"""`close` and the end of input deliver what was queued (issue 20 §2).

Measured before: 20,000 ``send_text`` then ``close``: all got ``sent``, about half
arrived, exit 0; closing stdin during a photo cancelled it. Now close waits until
the peer confirmed everything (or is gone, or a limit proportional to the queue
passed) and a give-up is an ``error`` event counting what was lost, exit 4.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.e2e.procs import p2pchat_env, spawn
from tests.e2e.test_relay import Lines, command, exit_status, headless_peer


def pair(mailbox: str, config_dirs: tuple[Path, Path]) -> tuple[Lines, Lines]:
    """A headless inviter (the sender) and joiner (the receiver), paired."""
    sender = spawn(
        ["headless", "--invite", "--mailbox", mailbox, "--loopback"],
        p2pchat_env(config_dirs[0]),
        stdin=subprocess.PIPE,
    )
    s_lines = Lines(sender)
    code, _ = s_lines.until("code")
    r_lines = Lines(headless_peer(mailbox, config_dirs[1], code["code"]))
    s_lines.until("paired")
    r_lines.until("paired")
    return s_lines, r_lines


def count_events(lines: Lines, kind: str, until: str) -> tuple[int, list[dict[str, object]]]:
    count, tail = 0, []
    while True:
        record = json.loads(lines.line(timeout=300))
        if record["event"] == kind:
            count += 1
        else:
            tail.append(record)
        if record["event"] == until:
            return count, tail


def test_twenty_thousand_messages_then_close_all_arrive(
    mailbox_process: str, config_dirs: tuple[Path, Path]
) -> None:
    s_lines, r_lines = pair(mailbox_process, config_dirs)
    stdin = s_lines.proc.stdin
    assert stdin is not None
    total = 20_000
    commands = "".join(
        json.dumps({"cmd": "send_text", "text": f"message {n}"}) + "\n" for n in range(total)
    )
    stdin.write(commands + json.dumps({"cmd": "close"}) + "\n")
    stdin.flush()
    received, tail = count_events(r_lines, "text", until="peer_left")
    assert received == total, tail
    delivered, tail = count_events(s_lines, "delivered", until="closed")
    assert delivered == total, tail
    assert not [e for e in tail if e["event"] == "error"], tail
    s_code, s_err = exit_status(s_lines.proc, timeout=120)
    assert s_code == 0, s_err


def test_end_of_input_during_a_photo_delivers_the_photo(
    mailbox_process: str, config_dirs: tuple[Path, Path], big_image: Path
) -> None:
    s_lines, r_lines = pair(mailbox_process, config_dirs)
    command(s_lines.proc, "send_image", path=str(big_image))
    assert s_lines.proc.stdin is not None
    s_lines.proc.stdin.close()  # end of input right behind the photo
    image, _ = r_lines.until("image", timeout=120)
    r_lines.until("peer_left", timeout=60)
    _, seen = s_lines.until("closed", timeout=120)
    delivered = [e for e in seen if e["event"] == "delivered"]
    assert [e["message_id"] for e in delivered] == [image["message_id"]], seen
    assert not [e for e in seen if e["event"] in ("cancelled", "error")], seen
    s_code, s_err = exit_status(s_lines.proc)
    assert s_code == 0, s_err


def test_a_close_that_gives_up_counts_what_was_lost_and_exits_4(
    mailbox_process: str, config_dirs: tuple[Path, Path]
) -> None:
    s_lines, r_lines = pair(mailbox_process, config_dirs)
    os.killpg(r_lines.proc.pid, signal.SIGSTOP)  # the peer hangs: no acks come back
    try:
        for n in range(5):
            command(s_lines.proc, "send_text", text=f"into the void {n}")
        command(s_lines.proc, "close")
        error, seen = s_lines.until("error", timeout=120)
        assert "5 message(s)" in error["message"] and error["exit_code"] == 4, error
        assert not [e for e in seen if e["event"] == "delivered"], seen
        s_code, s_err = exit_status(s_lines.proc, timeout=60)
        assert s_code == 4, s_err
    finally:
        os.killpg(r_lines.proc.pid, signal.SIGCONT)
        r_lines.proc.kill()
