"""The rendezvous server restarts between two pairings: the next pairing just works.

A `p2pchat mailbox` process on a fixed 127.0.0.1 port is stopped after one complete
transfer; an invite made while it is down fails at once with advice instead of
hanging; after a restart on the same port (all mailbox state lost) a new pairing
and transfer succeed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import free_tcp_port
from tests.e2e.procs import finish, p2pchat_env, read_line, running_mailbox, spawn


def transfer_text(url: str, config_dirs, out_dir: Path, text: str) -> list[dict]:
    sender = spawn(
        ["send", "--mailbox", url, "--loopback", "--json", "--text", text],
        p2pchat_env(config_dirs[0]),
    )
    code = json.loads(read_line(sender, timeout=60))["code"]
    receiver = spawn(
        ["receive", "--mailbox", url, "--loopback", "--json", "--out", str(out_dir)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=code),
    )
    s_code, _, s_err = finish(sender, timeout=60)
    r_code, r_out, r_err = finish(receiver, timeout=60)
    assert (s_code, r_code) == (0, 0), (s_err, r_err)
    return [json.loads(line) for line in r_out.splitlines()]


def test_pairing_works_again_after_the_mailbox_restarts(config_dirs, out_dir, tmp_path):
    port = free_tcp_port()
    with running_mailbox(tmp_path / "mailbox-1", port) as url:
        first = transfer_text(url, config_dirs, out_dir, "before the restart")
        assert [e["text"] for e in first if e["event"] == "text"] == ["before the restart"]

    # While it is down: a clear error and a non-zero exit, not a hang.
    down = spawn(
        ["send", "--mailbox", url, "--loopback", "--text", "nobody hears this"],
        p2pchat_env(config_dirs[0]),
    )
    code, out, err = finish(down, timeout=30)
    assert code == 4, (out, err)
    assert "code:" not in out
    assert "Traceback" not in err and str(port) in err, err

    with running_mailbox(tmp_path / "mailbox-2", port) as url:
        second = transfer_text(url, config_dirs, out_dir, "after the restart")
        assert [e["text"] for e in second if e["event"] == "text"] == ["after the restart"]
