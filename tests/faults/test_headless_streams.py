"""Bad bytes on headless stdin and a closed stdout (issue 20 §3).

A line that is not UTF-8 used to kill the command pump (the session closed with
exit 0, dropping every later command) or the reader thread (a hang). A receiver
whose stdout was closed (``| head -1``) went on acknowledging messages nobody could
read. Now a bad line is a non-fatal ``error`` event, and a closed stdout ends the
session with exit 6 while the peer sees ``peer_left``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.procs import p2pchat_env, spawn
from tests.e2e.test_relay import Lines, command, exit_status, headless_peer


def test_a_line_that_is_not_utf8_is_an_error_and_the_session_carries_on(
    mailbox_process: str, config_dirs: tuple[Path, Path]
) -> None:
    sender = spawn(
        ["headless", "--invite", "--mailbox", mailbox_process, "--loopback"],
        p2pchat_env(config_dirs[0]),
        stdin=subprocess.PIPE,
    )
    s_lines = Lines(sender)
    code, _ = s_lines.until("code")
    r_lines = Lines(headless_peer(mailbox_process, config_dirs[1], code["code"]))
    s_lines.until("paired")
    r_lines.until("paired")
    assert sender.stdin is not None
    sender.stdin.flush()
    sender.stdin.buffer.write(b'{"cmd": "send_text", "text": "caf\xe9"}\n')
    sender.stdin.buffer.flush()
    error, _ = s_lines.until("error", timeout=30)
    assert error["fatal"] is False and "UTF-8" in error["message"], error
    command(sender, "send_text", text="after the bad line")
    r_lines.text("after the bad line", timeout=30)
    s_lines.until("delivered", timeout=30)
    command(sender, "close")
    s_code, s_err = exit_status(sender)
    assert s_code == 0, s_err
    assert "Traceback" not in s_err


def test_a_closed_stdout_ends_the_session_and_the_peer_sees_it(
    mailbox_process: str, config_dirs: tuple[Path, Path]
) -> None:
    sender = spawn(
        ["headless", "--invite", "--mailbox", mailbox_process, "--loopback"],
        p2pchat_env(config_dirs[0]),
        stdin=subprocess.PIPE,
    )
    s_lines = Lines(sender)
    code, _ = s_lines.until("code")
    receiver = headless_peer(mailbox_process, config_dirs[1], code["code"])
    assert receiver.stdout is not None
    assert json.loads(receiver.stdout.readline())["event"] == "paired"
    receiver.stdout.close()  # `| head -1`: the reader is gone
    s_lines.until("paired")
    command(sender, "send_text", text="nobody will read this")
    _, seen = s_lines.until("peer_left", timeout=60)
    assert not [e for e in seen if e["event"] == "delivered"], "nobody read it"
    r_code, r_err = exit_status(receiver)
    assert r_code == 6, r_err
    assert "Traceback" not in r_err and "BrokenPipe" not in r_err, r_err
    # The sender ends with the peer; its message was never confirmed: exit 4.
    error, _ = s_lines.until("error", timeout=30)
    assert "1 message(s)" in error["message"] and error["exit_code"] == 4, error
    s_code, s_err = exit_status(sender)
    assert s_code == 4, s_err
