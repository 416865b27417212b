"""The scrolling list of chat messages: text, images, notices and delivery states.

Each message shows the model's own state (``core.message.MessageState``, and
``ViewOnceState`` for a view-once photo), as the service's conversation keeps it.
Peer text is untrusted. It is shown as plain ``Content`` (never parsed as
markup), each line first passed through ``safe_label`` so control characters
and terminal escapes cannot reach the terminal; "[bold]x[/]" shows literally.
"""

from __future__ import annotations

import time
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from p2pchat.core.labels import safe_label
from p2pchat.core.message import MessageState, ViewOnceState
from p2pchat.i18n import t
from p2pchat.tui.widgets.image_view import ImageView

Direction = Literal["in", "out"]
MAX_MESSAGE_CHARS = 16_000
MAX_LABEL_CHARS = 40
MAX_LINES = 400


def safe_peer_text(text: str) -> str:
    """Untrusted text made displayable: a multi-line safe label, length and lines capped."""
    cleaned = safe_label(text[: MAX_MESSAGE_CHARS * 2], MAX_MESSAGE_CHARS, multiline=True)
    return "\n".join(cleaned.split("\n")[:MAX_LINES])


def _clock(timestamp: float) -> str:
    return time.strftime("%H:%M", time.localtime(timestamp))


def state_word(state: MessageState, view_once: ViewOnceState | None = None) -> str:
    """The catalogue word (``delivery.*``) for a message's state: a photo opened is "viewed"."""
    if view_once in (ViewOnceState.OPENED, ViewOnceState.VIEWED):
        return "viewed"
    return state.value


class MessageItem(Vertical):
    """One message: a header line (sender, time, state) and a body."""

    def __init__(
        self,
        message_id: str,
        direction: Direction,
        sender: str,
        sent_at: float,
        state: MessageState,
        view_once: ViewOnceState | None = None,
    ) -> None:
        super().__init__(classes=f"message -{direction}")
        self.message_id = message_id
        self.direction = direction
        self.sender = safe_label(sender, MAX_LABEL_CHARS)
        self.sent_at = sent_at
        self.state = state
        self.view_once = view_once

    @property
    def state_word(self) -> str:
        return state_word(self.state, self.view_once)

    def header(self) -> Content:
        return Content.assemble(
            (self.sender, "bold"),
            "  ",
            (_clock(self.sent_at), "dim"),
            "  ",
            (t(f"delivery.{self.state_word}"), "italic $text-muted"),
        )

    def compose(self) -> ComposeResult:
        yield Static(self.header(), classes="message-header")

    def set_state(self, state: MessageState, view_once: ViewOnceState | None = None) -> None:
        """Show the model's state; ``view_once`` None keeps what the item had."""
        self.state = state
        if view_once is not None:
            self.view_once = view_once
        if self.is_mounted:
            for header in self.query(".message-header").results(Static):
                header.update(self.header())


class TextMessage(MessageItem):
    def __init__(self, *args: object, text: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.text = safe_peer_text(text)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static(Content(self.text), classes="message-body")


class ImageMessage(MessageItem):
    def __init__(
        self,
        *args: object,
        data: bytes,
        report_lines: tuple[str, ...],
        renderer: str,
        caption: str = "",
        nothing_removed: str = "",
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.data = data
        self.report_lines = report_lines
        # Shown as it is when the report is empty ("Arrived clean: …").
        self.nothing_removed = nothing_removed
        self.renderer = renderer
        self.caption = caption

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self.caption:
            yield Static(Content(self.caption), classes="message-caption")
        if self.data:
            yield ImageView(self.data, renderer=self.renderer, message_id=self.message_id)
        if self.report_lines:
            yield Static(Content(report_text(self.report_lines)), classes="message-report")
        elif self.nothing_removed:
            yield Static(Content(self.nothing_removed), classes="message-report")


def report_text(removed: tuple[str, ...] | list[str]) -> str:
    """ "Removed: GPS location; camera …" from the findings, or that nothing was found."""
    if not removed:
        return t("report.nothing_found")
    cleaned = [safe_label(item, 200) for item in removed]
    return t("report.removed", items="; ".join(cleaned))


class MessageList(VerticalScroll):
    """All messages of the conversation, newest at the bottom."""

    def __init__(self, *, renderer: str = "auto", id: str | None = None) -> None:
        super().__init__(id=id)
        self.renderer = renderer
        self._items: dict[str, MessageItem] = {}

    def add_text(
        self,
        message_id: str,
        direction: Direction,
        sender: str,
        text: str,
        *,
        sent_at: float | None = None,
        state: MessageState = MessageState.SENDING,
    ) -> TextMessage:
        item = TextMessage(message_id, direction, sender, sent_at or time.time(), state, text=text)
        self._add(item)
        return item

    def add_image(
        self,
        message_id: str,
        direction: Direction,
        sender: str,
        data: bytes,
        *,
        report_lines: tuple[str, ...] = (),
        caption: str = "",
        nothing_removed: str = "",
        sent_at: float | None = None,
        state: MessageState = MessageState.SENDING,
        view_once: ViewOnceState | None = None,
    ) -> ImageMessage:
        item = ImageMessage(
            message_id,
            direction,
            sender,
            sent_at or time.time(),
            state,
            view_once,
            data=data,
            report_lines=report_lines,
            renderer=self.renderer,
            caption=caption,
            nothing_removed=nothing_removed,
        )
        self._add(item)
        return item

    def add_item(self, item: MessageItem) -> MessageItem:
        """Add a message widget made elsewhere (the sealed view-once placeholder)."""
        self._add(item)
        return item

    def add_notice(self, text: str, *, level: Literal["info", "warning", "error"] = "info") -> None:
        self.mount(Static(Content(text), classes=f"notice -{level}"))
        self.call_after_refresh(self.scroll_end, animate=False)

    def set_state(
        self, message_id: str, state: MessageState, view_once: ViewOnceState | None = None
    ) -> None:
        item = self._items.get(message_id)
        if item is None:
            return
        if item.state is not state or (view_once is not None and item.view_once is not view_once):
            item.set_state(state, view_once)

    def message_ids(self) -> list[str]:
        """The ids of the messages shown, oldest first (placeholders keep their local id)."""
        return list(self._items)

    def rename(self, old_id: str, new_id: str) -> None:
        """A local placeholder id becomes the service's message id once it is known."""
        item = self._items.pop(old_id, None)
        if item is not None:
            item.message_id = new_id
            self._items[new_id] = item

    def get(self, message_id: str) -> MessageItem | None:
        return self._items.get(message_id)

    def remove_message(self, message_id: str) -> MessageItem | None:
        """Take a message off the screen for good (its disappearing timer ran out)."""
        item = self._items.pop(message_id, None)
        if item is not None:
            item.remove()
        return item

    def _add(self, item: MessageItem) -> None:
        self._items[item.message_id] = item
        self.mount(item)
        self.call_after_refresh(self.scroll_end, animate=False)
