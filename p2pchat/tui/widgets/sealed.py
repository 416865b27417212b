"""The sealed placeholder of a received view-once photo in the message list.

Owns what the chat shows for a view-once photo: a lock line, never a thumbnail,
a preview, a caption from the sender or the removed-metadata report (those
would tell something about the picture). Enter or a click asks the chat to
open it once; afterwards it says "viewed" (or "expired") and cannot be opened
again. Its lifecycle is the model's ``ViewOnceState`` (sealed, opened, viewed,
expired), the same the service's conversation keeps. While sealed it watches
the vault, so a photo wiped by expiry shows as expired without a service event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from p2pchat.core.message import MessageState, ViewOnceState
from p2pchat.i18n import t
from p2pchat.tui.widgets.message_list import MessageItem, MessageList

VAULT_CHECK_SECONDS: Final = 1.0


class SealedBody(Static, can_focus=True):
    """The focusable line of a sealed photo."""

    BINDINGS = [Binding("enter", "open", t("keys.open_view_once"), id="sealed.open")]

    def action_open(self) -> None:
        parent = self.parent
        if isinstance(parent, SealedPhoto):
            parent.request_open()

    def on_click(self) -> None:
        self.action_open()


class SealedPhoto(MessageItem):
    """A received view-once photo: sealed, then viewed or expired."""

    DEFAULT_CSS = """
    SealedPhoto SealedBody {
        width: auto;
        padding: 0 1;
        border: round $warning;
    }
    SealedPhoto SealedBody:focus {
        border: round $accent;
        text-style: bold;
    }
    SealedPhoto.-gone SealedBody {
        border: round $panel;
        color: $text-muted;
    }
    """

    @dataclass
    class OpenRequested(Message):
        sealed: SealedPhoto

    def __init__(
        self,
        message_id: str,
        sender: str,
        sent_at: float,
        *,
        vault: Any,
        vault_id: str,
        view_seconds: float,
    ) -> None:
        super().__init__(
            message_id, "in", sender, sent_at, MessageState.RECEIVED, ViewOnceState.SEALED
        )
        self.vault = vault
        self.vault_id = vault_id
        self.view_seconds = view_seconds

    @property
    def seal(self) -> ViewOnceState:
        """Where the photo is in the model's view-once lifecycle (opened: its viewer is up)."""
        assert self.view_once is not None
        return self.view_once

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield SealedBody(self._body_text(), classes="sealed-body")

    def on_mount(self) -> None:
        self.set_interval(VAULT_CHECK_SECONDS, self._check_vault)

    def _body_text(self) -> Content:
        if self.seal is ViewOnceState.VIEWED:
            return Content(t("view_once.viewed"))
        if self.seal is ViewOnceState.EXPIRED:
            return Content(t("view_once.expired"))
        return Content(t("view_once.sealed", seconds=max(1, round(self.view_seconds))))

    @property
    def openable(self) -> bool:
        return self.seal is ViewOnceState.SEALED and self.vault_id in self.vault

    def request_open(self) -> None:
        if self.openable:
            self.set_state(self.state, ViewOnceState.OPENED)
            self.post_message(self.OpenRequested(self))
        elif self.seal is ViewOnceState.SEALED:
            self.mark_gone("expired")
            self._say_gone()
        elif self.seal in (ViewOnceState.VIEWED, ViewOnceState.EXPIRED):
            self._say_gone()

    def _say_gone(self) -> None:
        # Say so in the conversation: a silent key press looks like a broken app.
        for ancestor in self.ancestors:
            if isinstance(ancestor, MessageList):
                ancestor.add_notice(t("view_once.gone"), level="warning")
                return

    def mark_gone(self, how: Literal["viewed", "expired"]) -> None:
        """The photo was viewed, or expired unopened: it can never be opened again."""
        gone = ViewOnceState.VIEWED if how == "viewed" else ViewOnceState.EXPIRED
        self.set_state(self.state, gone)
        self.add_class("-gone")
        self.query_one(SealedBody).update(self._body_text())

    def _check_vault(self) -> None:
        if self.seal is ViewOnceState.SEALED and self.vault_id not in self.vault:
            self.mark_gone("expired")
