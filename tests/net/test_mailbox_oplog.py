"""The mailbox server's operator log: counts and refusals with their reasons, once a
minute and on change; never a code, a nameplate, a mailbox id, a side, a body or an
address (issue 15 §5)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter
from typing import Any

import pytest

from p2pchat.net.mailbox_oplog import OPERATOR_LOG, OperatorLog, Snapshot
from tests.net.test_mailbox_limits import client_from
from tests.net.test_mailbox_server import request

NAMEPLATE = "48213"
SIDES = ("side-of-alice-3f9a", "side-of-bob-77c2", "side-of-eve-0d1e")
BODY = "c0ffee15900d" * 4
CLIENT = "127.0.0.9"


async def test_status_lines_count_and_explain_refusals_but_never_say_who_or_what(
    start_mailbox: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=OPERATOR_LOG.name)
    server = await start_mailbox(max_nameplates_per_client=1)
    server.operator_log._gap = 0.05  # on change: at once, for the test
    alice, bob, eve = [await client_from(server.url, CLIENT, side=side) for side in SIDES]
    claimed = await request(alice, "claimed", type="claim", nameplate=NAMEPLATE)
    mailbox = claimed["mailbox"]
    assert (await request(bob, "claimed", type="claim", nameplate=NAMEPLATE))["type"] == "claimed"
    await alice.send(json.dumps({"type": "open", "mailbox": mailbox}))
    await request(alice, "message", type="add", phase="pake", body=BODY)
    refused = await request(eve, "claimed", type="claim", nameplate=NAMEPLATE)
    assert refused["error"] == "crowded"
    refused = await request(eve, "allocated", type="allocate")
    assert refused["error"].startswith("too many nameplates in use from your address")

    def logged() -> str:
        return "\n".join(record.getMessage() for record in caplog.records)

    for _ in range(200):
        if "crowded: 1" in logged() and "too many nameplates" in logged():
            break
        await asyncio.sleep(0.02)
    text = logged()
    assert "3 connections from 1 address, 1 nameplate and 1 mailbox in use" in text
    assert "crowded: 1" in text
    assert "too many nameplates in use from your address, try again later: 1" in text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("refused since the last report" in r.getMessage() for r in warnings)
    for secret in (NAMEPLATE, mailbox, BODY, CLIENT, *SIDES):
        assert secret not in text
    for ws in (alice, bob, eve):
        await ws.close()


def test_a_line_a_minute_when_idle_and_at_most_one_per_gap_when_busy() -> None:
    now = [0.0]
    state = Snapshot(connections=0, clients=0, nameplates=0, mailboxes=0)
    refusals: Counter[str] = Counter()
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("tests.oplog")
    logger.addHandler(Capture())
    logger.setLevel(logging.INFO)
    oplog = OperatorLog(lambda: state, refusals, logger, every=60, gap=5, clock=lambda: now[0])

    def at(seconds: float) -> bool:
        now[0] = seconds
        return oplog.maybe_report()

    assert at(0)  # the first line at once
    assert not at(30)  # nothing changed
    assert at(60)  # ... but once a minute anyway
    state = Snapshot(connections=2, clients=1, nameplates=1, mailboxes=1)
    assert at(75)  # a change, and the last line is older than the gap: at once
    state = Snapshot(connections=4, clients=2, nameplates=2, mailboxes=2)
    refusals["crowded"] += 5
    assert not at(76)  # a change within the gap: it waits (one line per gap at most)
    assert at(80)
    assert "4 connections from 2 addresses" in lines[-1]
    assert "refused since the last report: 5 (crowded: 5)" in lines[-1]
    assert not refusals  # counted once
    assert not at(120)
    assert len(lines) == 4


async def test_cli_log_level_writes_status_lines_to_stderr_and_list_is_off() -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "p2pchat", "mailbox", "--port", "0", "--log-level", "info"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        stderr: list[str] = []

        async def line_with(text: str) -> str:
            assert process.stderr is not None
            while True:
                line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
                assert line, "".join(stderr)
                stderr.append(line)
                if text in line:
                    return line

        limits = await line_with("limits:")
        assert "256 per address" in limits and "`list` answered with nothing" in limits
        await line_with("0 connections")
        ws = await client_from(url, CLIENT, side=SIDES[0])
        await request(ws, "claimed", type="claim", nameplate=NAMEPLATE)
        assert (await request(ws, "nameplates", type="list"))["nameplates"] == []
        line = await line_with("1 connection from 1 address, 1 nameplate")
        assert line.startswith("p2pchat mailbox: ") and " INFO " in line
        await ws.close()
        for secret in (NAMEPLATE, CLIENT, SIDES[0]):
            assert secret not in "".join(stderr)
    finally:
        process.terminate()
        await process.wait()
