"""How `p2pchat send` tells its picture check (cli/transfer_send.py ``_tell_picture``).

The check follows the clean copy in the worker and only warns: what it saw goes to
stdout apart from what was removed (plain words, or a `picture` JSON event); a check
that could not run is a note on stderr that says the photo is sent all the same; a
check cancelled because `send` stopped says nothing.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from p2pchat.cli.transfer_common import Output
from p2pchat.cli.transfer_send import _tell_picture
from p2pchat.media.report import Finding, PrivacyReport
from p2pchat.media.worker_protocol import refusal


def _settled(result: PrivacyReport | BaseException | None) -> asyncio.Future[PrivacyReport]:
    future: asyncio.Future[PrivacyReport] = asyncio.get_running_loop().create_future()
    if result is None:
        future.cancel()
    elif isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
    return future


def _face() -> PrivacyReport:
    report = PrivacyReport("", 8, 6)
    report.findings = [Finding("face_visible", "high", "1 face is visible in the picture.")]
    return report


async def test_what_the_picture_shows_is_a_line_of_its_own(capsys: pytest.CaptureFixture[str]):
    _tell_picture(Output(False), "me.jpg", _settled(_face()))
    out, err = capsys.readouterr()
    said = "in the picture of me.jpg (only you see this): 1 face is visible in the picture"
    assert out == said + "\n"
    assert err == ""


async def test_with_json_it_is_a_picture_event_even_when_nothing_was_seen(
    capsys: pytest.CaptureFixture[str],
):
    _tell_picture(Output(True), "me.jpg", _settled(_face()))
    _tell_picture(Output(True), "sky.jpg", _settled(PrivacyReport("", 8, 6)))
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [
        {"event": "picture", "file": "me.jpg", "picture": ["1 face is visible in the picture."]},
        {"event": "picture", "file": "sky.jpg", "picture": []},
    ]


async def test_a_check_that_could_not_run_is_a_note_and_the_photo_still_goes(
    capsys: pytest.CaptureFixture[str],
):
    failed = refusal("check", "time", seconds="20")
    _tell_picture(Output(True), "me.jpg", _settled(failed))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "p2pchat send: me.jpg: the picture check could not run (it took longer than 20 s); "
        "it only warns, so the photo is sent all the same\n"
    )


async def test_a_cancelled_check_says_nothing(capsys: pytest.CaptureFixture[str]):
    _tell_picture(Output(True), "me.jpg", _settled(None))
    assert capsys.readouterr() == ("", "")
