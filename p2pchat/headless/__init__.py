"""The JSON-lines interface for scripts, bots and relays (no Textual here).

Commands arrive on stdin, one JSON object per line::

    {"cmd": "send_text", "text": "hello"}
    {"cmd": "send_image", "path": "photo.jpg", "original": false, "view_once": false}
    {"cmd": "close"}

Events leave on stdout, one JSON object per line, each with an "event" key:
``code``, ``paired``, ``text``, ``image``, ``report``, ``sent``, ``progress``,
``delivered``, ``view_once``, ``rejected``, ``error``, ``peer_left``, ``closed``
(see the README's "Scripting p2pchat"). A bad command (not JSON, not UTF-8) is
an ``error`` event with ``"fatal": false`` and the session carries on, and so is
a received photo that cannot be saved (the sender is told it was not kept).
Headless endpoints never receive view-once contents: they get a ``view_once``
placeholder event. When stdout is closed nobody reads the events any more: the
session ends (the peer sees ``peer_left``) with exit code 6.

``streams`` holds stdin and stdout, ``session`` the conversation (``HeadlessSession``).
"""

from __future__ import annotations

from p2pchat.headless.session import HeadlessSession
from p2pchat.headless.streams import (
    JsonLinesWriter,
    UndecodableLine,
    decode_line,
    start_stdin_reader,
)

__all__ = [
    "HeadlessSession",
    "JsonLinesWriter",
    "UndecodableLine",
    "decode_line",
    "start_stdin_reader",
]
