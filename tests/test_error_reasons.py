"""Every error a person can meet reads in their language (issue 16 §2).

The core cannot import the catalogues and scripts read English messages, so each
``P2PChatError`` class names a stable ``reason`` and the front ends word it
(``p2pchat/i18n/error_words.py``). This walks the whole package for the class:
every subclass has its own reason with a sentence in both catalogues, and every
finer reason a raise site gives with ``because("...")`` has one too.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import p2pchat
from p2pchat.core.errors import ImageRejected, P2PChatError, WrongCode
from p2pchat.core.exit_status import EXIT_CODES
from p2pchat.i18n import LANGUAGES, catalogue, speaking
from p2pchat.i18n.error_words import REASON_PREFIX, error_text, failure_text, notice_text
from p2pchat.service import events as ev
from p2pchat.service.meeting import WHY

SOURCES = Path(p2pchat.__file__).parent
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
#: class -> why it needs no sentence of its own (none today: every error can reach a person).
ALLOWED: dict[str, str] = {}


def error_classes() -> list[type[P2PChatError]]:
    for info in pkgutil.walk_packages(p2pchat.__path__, "p2pchat."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)

    def walk(cls: type[P2PChatError]) -> Iterator[type[P2PChatError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return sorted(set(walk(P2PChatError)) | {P2PChatError}, key=lambda c: c.__qualname__)


def reason_key(reason: str) -> str:
    return reason if "." in reason else REASON_PREFIX + reason


def because_keys() -> set[str]:
    """Every literal first argument of ``because(...)`` or ``_refused(...)`` in the package."""
    keys = set()
    for path in SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if name in ("because", "_refused"):
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    keys.add(first.value)
                elif isinstance(first, ast.IfExp):  # one of two reasons
                    keys |= {n.value for n in (first.body, first.orelse)}  # type: ignore[attr-defined]
    return keys


def assert_worded(key: str) -> None:
    english, japanese = catalogue("en").get(key), catalogue("ja").get(key)
    assert english and japanese, f"{key} is missing from a catalogue"
    assert JAPANESE.search(japanese), f"{key} is not Japanese in ja.toml: {japanese!r}"
    fields = [{f for _, f, _, _ in string.Formatter().parse(s) if f} for s in (english, japanese)]
    assert fields[0] == fields[1], f"{key}: the two languages use different values"


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    modules = {cls.__module__.split(".")[1] for cls in error_classes()}
    assert {"core", "net", "media", "store", "service"} <= modules
    assert len(error_classes()) > 30


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__qualname__)
def test_every_error_class_has_its_own_reason_in_both_languages(cls: type) -> None:
    if cls.__qualname__ in ALLOWED:
        return
    assert "reason" in cls.__dict__, f"{cls.__module__}.{cls.__qualname__} names no reason"
    assert_worded(reason_key(cls.__dict__["reason"]))


def test_every_finer_reason_given_at_a_raise_site_is_worded() -> None:
    keys = because_keys()
    assert {"pairing_timeout_alone", "meeting_points_taken", "send.cannot_read"} <= keys
    for reason in keys:
        assert_worded(reason_key(reason))


def test_the_reasons_a_peer_can_stop_with_are_worded() -> None:
    for said in ("pairing_failed", "stopped", "key_changed", "meeting_failed"):
        assert_worded(reason_key(f"peer_stopped_{said}"))


def test_notices_and_exit_codes_are_worded() -> None:
    for why in WHY:
        assert_worded(f"notices.meeting_moved.{why}")
    for code in EXIT_CODES:
        assert_worded(f"cli.exit_codes.{code}")


def test_english_keeps_the_message_and_japanese_reads_japanese() -> None:
    error = ImageRejected("the image header is corrupt (truncated)")
    with speaking("en"):
        assert error_text(error) == "the image header is corrupt (truncated)"
    with speaking("ja"):
        assert JAPANESE.search(error_text(error))
        assert "corrupt" not in error_text(error)
        # A finer reason wins over the class's, with its values.
        finer = WrongCode().because("contacts_full", limit=7)
        assert "7" in error_text(finer) and JAPANESE.search(error_text(finer))
        # Not one of ours: its own words (an OSError gets the catalogue's frame).
        assert error_text(ValueError("x")) == "x"
        assert JAPANESE.search(error_text(FileNotFoundError(2, "No such file", "a.jpg")))


def test_a_notice_is_worded_in_the_readers_language() -> None:
    notice = ev.Notice(
        "moved (English)", "notices.meeting_moved.crowded", {"attempt": 2, "attempts": 3}
    )
    for language in LANGUAGES:
        with speaking(language):
            assert "2" in notice_text(notice)
    with speaking("ja"):
        assert JAPANESE.search(notice_text(notice))
    assert notice_text(ev.Notice("plain")) == "plain"


async def test_a_pairing_nobody_joined_fails_with_a_reason_worded_in_japanese(
    embedded_mailbox: str,
) -> None:
    """A real invite on the embedded mailbox that nobody joins: the Failed event's words."""
    from p2pchat.net.rtc import IceSettings
    from p2pchat.service import ChatService, ServiceConfig

    config = ServiceConfig(
        mailbox_url=embedded_mailbox, ice=IceSettings(), loopback=True, code_validity=0.5
    )
    service = ChatService(config)
    try:
        await service.invite()
        while not isinstance(event := await service.next_event(), ev.Failed):
            pass
    finally:
        await service.close()
    assert "did not join in time" in event.message  # English, for scripts
    assert ev.event_to_json(event) == {
        "event": "error",
        "message": event.message,
        "exit_code": event.exit_code,
    }
    with speaking("ja"):
        assert "相手が時間内に参加しませんでした" in failure_text(event)
    with speaking("en"):
        assert failure_text(event) == event.message


def test_a_mistyped_code_keeps_its_hint_in_japanese() -> None:
    from p2pchat.core import codes
    from p2pchat.core.errors import InvalidCode

    with pytest.raises(InvalidCode) as caught:
        codes.parse("7-qqqqzz-banjo-zebra")
    with speaking("ja"):
        shown = error_text(caught.value)
    assert "qqqqzz" in shown and "1 番目" in shown, shown
