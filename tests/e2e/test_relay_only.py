"""Relay-only ("hide my IP") transfers between real `p2pchat` processes through a real coturn.

coturn runs on 127.0.0.1 with a TURN REST shared secret (``use-auth-secret``); both
peers get only the TURN URL and the secret (through an environment variable, never
argv), so the only way to connect is relay <-> relay. Every address involved is
127.0.0.1: the TURN URL, the relay address and the mailbox.
"""

from __future__ import annotations

import json
import secrets

import pytest

from tests.e2e.procs import CORPUS, finish, p2pchat_env, read_json_until, spawn
from tests.net.coturn import coturn_available, running_coturn

pytestmark = pytest.mark.skipif(not coturn_available(), reason="coturn (turnserver) not installed")

ALPHA_PNG = CORPUS / "png-text-alpha.png"
SECRET_ENV = "P2PCHAT_LAB_TURN_SECRET"


def _relay_args(mailbox: str, turn_url: str) -> list[str]:
    return [
        "--mailbox",
        mailbox,
        "--relay-only",
        "--no-stun",
        "--no-transit",
        "--turn",
        turn_url,
        "--turn-secret-env",
        SECRET_ENV,
        "--json",
    ]


def test_relay_only_transfer_through_coturn(mailbox_process, config_dirs, tmp_path):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    secret = secrets.token_urlsafe(16)
    with running_coturn(static_auth_secret=secret) as turn:
        assert turn.url.startswith("turn:127.0.0.1:")
        sender = spawn(
            [
                "send",
                *_relay_args(mailbox_process, turn.url),
                "--text",
                "via the relay",
                str(ALPHA_PNG),
            ],
            p2pchat_env(config_dirs[0], **{SECRET_ENV: secret}),
        )
        code_event, _ = read_json_until(sender, "code", timeout=60)
        receiver = spawn(
            ["receive", *_relay_args(mailbox_process, turn.url), "--out", str(out_dir)],
            p2pchat_env(config_dirs[1], **{SECRET_ENV: secret}, P2PCHAT_CODE=code_event["code"]),
        )
        s_code, s_out, s_err = finish(sender, timeout=90)
        r_code, r_out, r_err = finish(receiver, timeout=90)
        log = turn.log()
    assert s_code == 0, (s_err, log[-2000:])
    assert r_code == 0, (r_err, log[-2000:])
    r_events = [json.loads(line) for line in r_out.splitlines()]
    s_events = [json.loads(line) for line in [json.dumps(code_event), *s_out.splitlines()]]
    for events in (s_events, r_events):
        paired = [e for e in events if e["event"] == "paired"]
        assert paired and paired[0]["connection"] == "relay", events
    assert [e["text"] for e in r_events if e["event"] == "text"] == ["via the relay"]
    saved = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and saved[0].suffix == ".png"
    # The shared secret travels by environment only; no process printed it.
    for text in (s_out, s_err, r_out, r_err):
        assert secret not in text


def test_relay_only_without_turn_fails_fast_with_clear_error(
    mailbox_process, config_dirs, tmp_path
):
    """No relay at all + relay-only cannot ever connect: say so at once, never wait for a peer."""
    sender = spawn(
        [
            "send",
            "--mailbox",
            mailbox_process,
            "--relay-only",
            "--no-transit",
            "--text",
            "never sent",
        ],
        p2pchat_env(config_dirs[0]),
    )
    code, out, err = finish(sender, timeout=30)  # fails the test if it hangs
    assert code != 0, out
    assert "code" not in out.lower(), "an invite was made although it could never connect"
    assert "TURN" in err and "relay" in err.lower(), err
    assert "Traceback" not in err, err


def test_relay_only_receiver_without_turn_fails_before_joining(
    mailbox_process, config_dirs, tmp_path
):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    receiver = spawn(
        [
            "receive",
            "--mailbox",
            mailbox_process,
            "--relay-only",
            "--no-transit",
            "--out",
            str(out_dir),
        ],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE="7-aardvark-adroitness-absurd"),
    )
    code, _out, err = finish(receiver, timeout=30)
    assert code != 0
    assert "TURN" in err and "Traceback" not in err, err
    assert list(out_dir.iterdir()) == []
