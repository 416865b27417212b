"""`p2pchat send` / `receive` over the direct TCP path, as real processes on 127.0.0.1.

Both commands listen and name their addresses in the sealed version (loopback
only under --loopback); when the direct connection proves the key the receiver
never imports aiortc (the import alone is ~0.2 s of CPU on its critical path), and
neither does the sender.
--no-lan and --relay-only keep WebRTC. The receiver runs under a probe that
writes, as the process exits, which of the WebRTC stack's packages it imported;
the sender runs under it too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.e2e.procs import (
    CORPUS,
    finish,
    p2pchat_env,
    read_json_until,
    read_line,
    spawn_command,
    stop,
)

PHOTO = CORPUS / "nikon-gps-DSCN0010.jpg"
PROBE = """
import atexit, sys

def report():
    loaded = sorted(m for m in ("aiortc", "av", "aioice", "p2pchat.net.rtc") if m in sys.modules)
    sys.stderr.write("loaded at exit: %s\\n" % ",".join(loaded))
    sys.stderr.flush()

atexit.register(report)
from p2pchat.cli.main import main
sys.exit(main())
"""


def _pair(mailbox: str, config_dirs, tmp_path: Path, *extra: str, as_json: bool = True):
    json_flag = ["--json"] if as_json else []
    send = ["send", "--mailbox", mailbox, "--loopback", *json_flag, *extra, "--text", "hi"]
    sender = spawn_command(
        [sys.executable, "-c", PROBE, *send, str(PHOTO)], p2pchat_env(config_dirs[0])
    )
    first = read_line(sender, timeout=60)
    code = json.loads(first)["code"] if as_json else first.removeprefix("code: ").strip()
    out = tmp_path / "received"
    out.mkdir()
    argv = ["receive", "--mailbox", mailbox, "--loopback", *json_flag, *extra, "--out", str(out)]
    receiver = spawn_command(
        [sys.executable, "-c", PROBE, *argv], p2pchat_env(config_dirs[1], P2PCHAT_CODE=code)
    )
    return sender, receiver, out


def test_send_and_receive_pair_over_direct_tcp_without_aiortc(
    mailbox_process, config_dirs, tmp_path
):
    sender, receiver, out = _pair(mailbox_process, config_dirs, tmp_path)
    try:
        paired, _ = read_json_until(receiver, "paired", timeout=60)
        assert paired["connection"] == "lan"
        sender_paired, _ = read_json_until(sender, "paired", timeout=60)
        assert sender_paired["connection"] == "lan"
        assert sender_paired["safety_number"] == paired["safety_number"]
        image, _ = read_json_until(receiver, "image", timeout=60)
        assert Path(image["path"]).exists() and Path(image["path"]).parent == out
        r_status, _, r_err = finish(receiver, timeout=60)
        assert r_status == 0, r_err
        assert "loaded at exit: \n" in r_err, r_err
        s_status, _, s_err = finish(sender, timeout=60)
        assert s_status == 0, s_err
        assert "loaded at exit: \n" in s_err, s_err  # nor the sender, not even to preload
    finally:
        stop(sender)
        stop(receiver)


def test_the_human_output_names_the_direct_path(mailbox_process, config_dirs, tmp_path):
    sender, receiver, _ = _pair(mailbox_process, config_dirs, tmp_path, as_json=False)
    try:
        r_status, _, r_err = finish(receiver, timeout=60)
        assert r_status == 0, r_err
        assert "connected by direct TCP on your network" in r_err
        s_status, _, s_err = finish(sender, timeout=60)
        assert s_status == 0, s_err
        assert "connected by direct TCP on your network" in s_err
    finally:
        stop(sender)
        stop(receiver)


def test_no_lan_keeps_webrtc(mailbox_process, config_dirs, tmp_path):
    sender, receiver, _ = _pair(mailbox_process, config_dirs, tmp_path, "--no-lan")
    try:
        paired, _ = read_json_until(receiver, "paired", timeout=60)
        assert paired["connection"] == "direct"  # WebRTC's host path
        r_status, _, r_err = finish(receiver, timeout=60)
        assert r_status == 0, r_err
        assert "loaded at exit: aioice,aiortc,av,p2pchat.net.rtc\n" in r_err, r_err
        assert finish(sender, timeout=60)[0] == 0
    finally:
        stop(sender)
        stop(receiver)


def test_relay_only_keeps_to_the_relay(mailbox_process, transit_relay, config_dirs, tmp_path):
    relay = ["--relay-only", "--transit-relay", transit_relay]
    sender, receiver, _ = _pair(mailbox_process, config_dirs, tmp_path, *relay)
    try:
        paired, _ = read_json_until(receiver, "paired", timeout=60)
        assert paired["connection"] == "transit"
        assert read_json_until(sender, "paired", timeout=60)[0]["connection"] == "transit"
        assert finish(receiver, timeout=60)[0] == 0
        assert finish(sender, timeout=60)[0] == 0
    finally:
        stop(sender)
        stop(receiver)
