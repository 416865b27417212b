"""What the app pushes down into a chat screen: service events, finished sends, verification.

``ChatUpdates`` is the base of ``ChatScreen``: ``apply_event`` hands each
``p2pchat.service.events`` event to the shared ``ChatView`` (message list and
transfer bars, as in the demo) and updates the screen's own chrome (status bar,
typing line, the end of the chat); ``message_sent`` gives a local placeholder its
service id; ``set_verified`` shows a compared safety number. The messages and
their states are the service's (``conversation``, read only). What the user does
in the chat lives in ``chat.py``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from textual import on
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from p2pchat.core.errors import P2PChatError
from p2pchat.core.message import ConversationView, DisappearingTimer
from p2pchat.i18n import t
from p2pchat.service import events as ev
from p2pchat.tui.screens.view_once import ViewOnceScreen
from p2pchat.tui.widgets.chat_view import ChatView
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.message_list import MessageList
from p2pchat.tui.widgets.sealed import SealedPhoto
from p2pchat.tui.widgets.status_bar import StatusBar, timer_word
from p2pchat.tui.widgets.transfer_bar import TransferPanel

TYPING_SHOWN_SECONDS = 4.0


class ChatUpdates(Screen[None]):
    """The chat screen's half that shows what happened; ChatScreen adds the user's side."""

    # Set by ChatScreen.__init__: who the peer is and the service's conversation (read only).
    peer_label: str
    conversation: ConversationView
    renderer: str | None
    verified: bool
    key_changed: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ended = False
        self._typing_timer: Any = None
        self._chat_view: ChatView | None = None

    @property
    def view(self) -> ChatView:
        """The shared drawing of messages and transfers (the demo's panes use it too)."""
        if self._chat_view is None:
            self._chat_view = ChatView(
                self.query_one(MessageList),
                self.query_one(TransferPanel),
                peer_label=lambda: self.peer_label,
                conversation=lambda: self.conversation,
                vault=lambda: getattr(getattr(self.app, "service", None), "vault", None),
            )
        return self._chat_view

    def notice(self, text: str, level: Literal["info", "warning", "error"] = "info") -> None:
        self.query_one(MessageList).add_notice(text, level=level)

    def set_verified(self, verified: bool) -> None:
        self.verified = verified
        self.query_one(StatusBar).verified = verified
        if verified:
            self.key_changed = False
            self.query_one("#key-banner").display = False

    def message_sent(self, local_id: str, message_id: str | None, error: str = "") -> None:
        """A send finished: the local placeholder gets the service's id, or is marked failed."""
        self.view.sent(local_id, message_id, error)

    def apply_event(self, event: ev.ServiceEvent) -> None:
        """Show one service event."""
        messages = self.query_one(MessageList)
        status = self.query_one(StatusBar)
        self.view.show(event)
        match event:
            case ev.TextReceived():
                self._typing(False)
            case ev.TimerChanged(seconds=seconds, by_peer=by_peer):
                self._timer_changed(seconds, by_peer)
            case ev.PeerTyping():
                self._typing(True)
            case ev.RoundTrip(seconds=seconds):
                status.rtt = seconds
            case ev.ConnectionChanged(state=state, connection=connection):
                status.connection = state
                if connection != "unknown":
                    status.connection_kind = connection
                if state in ("lost", "closed"):
                    self._end()
            case ev.PeerLeft():
                messages.add_notice(t("chat.peer_left", peer=self.peer_label), level="warning")
                status.connection = "closed"
                self._end()
            case ev.Failed():
                status.connection = "lost"
                self._end()
            case ev.Closed():
                status.connection = "closed"
                self._end()
            case _:
                pass

    def _timer_changed(self, seconds: int, by_peer: bool) -> None:
        try:
            timer = DisappearingTimer(seconds)
        except ValueError:
            return  # the session already refuses other values; never trust it blindly
        self.query_one(StatusBar).timer = timer.value
        who = self.peer_label if by_peer else t("chat.me")
        word = timer_word(seconds)
        key = "timer.set_off" if seconds == 0 else "timer.set_on"
        self.query_one(MessageList).add_notice(t(key, who=who, duration=word))

    def _typing(self, active: bool) -> None:
        typing = self.query_one("#typing", Static)
        # Content, never markup: the peer chose this name ("[@click=app.quit]" must show as typed).
        typing.update(Content(t("chat.typing", peer=self.peer_label)) if active else Content(""))
        if self._typing_timer is not None:
            self._typing_timer.stop()
            self._typing_timer = None
        if active:
            self._typing_timer = self.set_timer(TYPING_SHOWN_SECONDS, lambda: self._typing(False))

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.refresh_bindings()  # the footer now offers "back to home"
        for bar in list(self.query_one(TransferPanel).query("TransferBar")):
            bar.remove()
        self.query_one(MessageList).add_notice(t("chat.ended"), level="info")

    # ----- a view-once photo, opened once -----------------------------------------
    @on(SealedPhoto.OpenRequested)
    def _open_view_once(self, message: SealedPhoto.OpenRequested) -> None:
        sealed = message.sealed

        def closed(shown: bool | None) -> None:
            if not shown:
                sealed.mark_gone("expired")
                self.query_one(MessageList).add_notice(t("view_once.gone"), level="warning")
                return
            sealed.mark_gone("viewed")
            service = getattr(self.app, "service", None)
            if service is not None:
                self.run_worker(
                    self._send_opened(service, sealed.message_id),
                    group="view-once",
                    exit_on_error=False,
                )

        viewer = ViewOnceScreen(
            sealed.vault,
            sealed.vault_id,
            view_seconds=sealed.view_seconds,
            renderer=self.renderer or "auto",
        )
        self._focus_composer_behind()
        self.app.push_screen(viewer, closed)

    async def _send_opened(self, service: Any, message_id: str) -> None:
        # The peer may have left meanwhile: the photo is gone either way.
        with contextlib.suppress(P2PChatError):
            await service.mark_opened(message_id)

    def _focus_composer_behind(self) -> None:
        # Moved before the viewer opens, so the focus Textual restores when it closes is
        # already the composer (no moment where the photo line still has it).
        self.query_one(Composer).focus(scroll_visible=False)
