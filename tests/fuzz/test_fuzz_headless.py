"""Fuzzing what a script writes to ``p2pchat headless``: stdin lines as raw bytes.

Every line, whatever its bytes (not UTF-8, not JSON, a wrong shape, a mutation of
a real command), must be answered with non-fatal ``error`` events or acted on;
nothing may escape the command pump, which must go on to the next line. The
service is a real, unpaired ``ChatService`` (``send_text`` refuses cleanly).
Seeds never name a file, so no mutation reads one.
"""

from __future__ import annotations

import asyncio
import io
import json

from hypothesis import given, settings

from p2pchat.headless import HeadlessSession, JsonLinesWriter, decode_line
from p2pchat.service import ChatService, ServiceConfig
from tests.fuzz.conftest import EXAMPLES, mutated

FAST = settings(max_examples=300, deadline=None, database=None)
SEEDS = [
    b'{"cmd": "send_text", "text": "hello \xc3\xa9\xe3\x81\x82"}\n',
    b'{"cmd": "send_text", "text": 5}\n',
    b'{"cmd": "close"}\n',
    b'{"cmd": "dance"}\n',
    b'["send_text"]\n',
    b"\xff\xfe\x00not json\n",
    b'{"cmd": "send_text", "text": ' + b"[" * 100_000 + b"\n",  # nested past the recursion limit
]
AFTER = '{"cmd": "close"}'


async def pump(raw: bytes) -> list[dict[str, object]]:
    out = io.StringIO()
    service = ChatService(ServiceConfig(mailbox_url="ws://127.0.0.1:9/v1"))
    session = HeadlessSession(service, JsonLinesWriter(out))
    commands: asyncio.Queue[str | None] = asyncio.Queue()
    for line in raw.splitlines(keepends=True) or [b""]:
        commands.put_nowait(decode_line(line))
    commands.put_nowait(AFTER)  # the pump must still be there to read it
    handled: list[str | None] = []
    handle = session.handle_command

    async def recording(line: str) -> str | None:
        handled.append(await handle(line))
        return handled[-1]

    session.handle_command = recording  # type: ignore[method-assign]
    await asyncio.wait_for(session._pump_commands(commands), 10)
    assert handled and handled[-1] == "close", "the command pump stopped before a close"
    return [json.loads(line) for line in out.getvalue().splitlines()]


@given(raw=mutated(SEEDS))
@FAST
def test_fuzz_headless_stdin_lines(raw: bytes) -> None:
    EXAMPLES["headless stdin"] += 1
    for event in asyncio.run(pump(raw)):
        assert event["event"] in ("error", "sent"), event
        if event["event"] == "error":
            assert event["fatal"] is False, event


def test_a_line_that_is_not_utf8_is_answered_and_the_next_is_read() -> None:
    events = asyncio.run(pump(b'{"cmd": "send_text", "text": "caf\xe9"}\n'))
    assert len(events) == 1 and "not UTF-8" in str(events[0]["message"]), events
