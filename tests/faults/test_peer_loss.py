"""A peer that vanishes mid-transfer: the other side exits 4 and keeps no partial file.

The receiver-killed case is in tests/e2e/test_send_receive.py; this is the other
direction (sender killed while the receiver is taking an image in), which only the
receiver's heartbeat can notice because a SIGKILLed process says no goodbye.
"""

from __future__ import annotations

import json
import os
import signal
import time

from tests.e2e.procs import finish, p2pchat_env, read_json_until, read_line, spawn


def test_sender_killed_mid_transfer_receiver_exits_4_without_partial_file(
    mailbox_process, config_dirs, out_dir, big_image
):
    send_args = ["send", "--mailbox", mailbox_process, "--loopback", "--json", "--original"]
    sender = spawn(
        [*send_args, str(big_image)],
        p2pchat_env(config_dirs[0]),
    )
    code = json.loads(read_line(sender, timeout=60))["code"]
    receiver = spawn(
        ["receive", "--mailbox", mailbox_process, "--loopback", "--json", "--out", str(out_dir)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=code),
    )
    progress, _ = read_json_until(sender, "progress", timeout=60)
    assert progress["done_bytes"] < progress["total_bytes"], "the transfer finished too soon"
    os.killpg(sender.pid, signal.SIGKILL)
    sender.wait()
    killed_at = time.monotonic()
    r_code, r_out, r_err = finish(receiver, timeout=60)
    waited = time.monotonic() - killed_at
    assert r_code == 4, (r_out, r_err)
    assert "image" not in [json.loads(line)["event"] for line in r_out.splitlines()]
    assert list(out_dir.iterdir()) == [], "a partial or unfinished file was kept"
    assert waited < 25, f"receiver took {waited:.1f} s to notice"  # the heartbeat promise is 15 s
