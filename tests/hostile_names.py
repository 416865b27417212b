"""Hostile display names and texts, and a recorder of what Textual and Rich parse as markup.

Every name carries the marker ``Mallory``: a sink that reads a peer string as
markup shows up as a markup string containing the marker (``MarkupRecorder``),
whether or not that particular name would have crashed or injected anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.text import Text
from textual.content import Content

MARKER = "Mallory"

HOSTILE_NAMES: tuple[str, ...] = (
    "[@click=app.quit('x)]Mallory",  # the audit's crash: an unbalanced action
    "[@click=app.quit]Mallory",  # an action that parses
    "[link=https://evil.example]Mallory[/link]",
    "[b][i][u]Mallory[/b]",  # nested, unclosed
    "[[b]]Mallory[/",  # doubled and unbalanced brackets
    "Mallory]",
    "\\[b]Mallory\\",  # backslashes before a bracket and at the end
    "[$accent]Mallory [on red]",  # Textual variables, Rich styles
    "\x1b[31mMallory\x1b]0;pwned\x07\x1b[2J",  # SGR, OSC title, clear screen
    "\u202eyrollaM\u202c Mallory\u200b\u3164",  # bidi override, invisible characters
)
LONG_NAME = "[@click=app.quit('x)]" * 476 + "Mallory"  # 10,003 characters


class MarkupRecorder:
    """Every string that Content.from_markup (Textual) or Text.from_markup (Rich) parsed."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def with_marker(self) -> list[str]:
        return [markup for markup in self.parsed if MARKER in markup]


@contextlib.contextmanager
def recording_markup() -> Iterator[MarkupRecorder]:
    recorder = MarkupRecorder()
    content_from_markup = Content.from_markup.__func__  # type: ignore[attr-defined]
    text_from_markup = Text.from_markup.__func__  # type: ignore[attr-defined]

    def content_wrapper(cls, markup, **variables):  # type: ignore[no-untyped-def]
        if isinstance(markup, str):
            recorder.parsed.append(markup)
        return content_from_markup(cls, markup, **variables)

    def text_wrapper(cls, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        recorder.parsed.append(text)
        return text_from_markup(cls, text, *args, **kwargs)

    Content.from_markup = classmethod(content_wrapper)  # type: ignore[method-assign,assignment]
    Text.from_markup = classmethod(text_wrapper)  # type: ignore[method-assign,assignment]
    try:
        yield recorder
    finally:
        Content.from_markup = classmethod(content_from_markup)  # type: ignore[method-assign,assignment]
        Text.from_markup = classmethod(text_from_markup)  # type: ignore[method-assign,assignment]
