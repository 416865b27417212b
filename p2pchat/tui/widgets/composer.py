"""The message composer: a multi-line TextArea where Enter sends.

Enter posts ``Composer.Submitted``; Ctrl+J, Shift+Enter or Alt+Enter insert a
newline. Up on the first line and Down on the last line walk the history of
what was sent, like a shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter", "newline"})
HISTORY_LIMIT = 200


class Composer(TextArea):
    """Where the user types; owns the sent-message history."""

    @dataclass
    class Submitted(Message):
        composer: Composer
        text: str

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, id: str | None = None, placeholder: str = "") -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=placeholder,
            compact=True,
        )
        self.sent_history: list[str] = []
        self._history_index: int | None = None
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        row, _ = self.cursor_location
        if key == "up" and row == 0 and self.sent_history:
            event.stop()
            event.prevent_default()
            self._recall(-1)
            return
        if (
            key == "down"
            and row == self.document.line_count - 1
            and self._history_index is not None
        ):
            event.stop()
            event.prevent_default()
            self._recall(+1)
            return
        await super()._on_key(event)

    def _submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if not self.sent_history or self.sent_history[-1] != text:
            self.sent_history.append(text)
            del self.sent_history[:-HISTORY_LIMIT]
        self._history_index = None
        self._draft = ""
        self.clear()
        self.post_message(self.Submitted(self, text))

    def _recall(self, step: int) -> None:
        if self._history_index is None:
            self._draft = self.text
            index = len(self.sent_history) + step
        else:
            index = self._history_index + step
        if index >= len(self.sent_history):
            self._history_index = None
            self.load_text(self._draft)
        else:
            self._history_index = max(0, index)
            self.load_text(self.sent_history[self._history_index])
        self.move_cursor(self.document.end)
