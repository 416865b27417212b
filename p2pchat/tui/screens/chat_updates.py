"""What the app pushes down into a chat screen: service events, finished sends, verification.

``ChatUpdates`` is the base of ``ChatScreen``: ``apply_event`` turns each
``p2pchat.service.events`` event into the message list, transfer bars, status bar and
the in-memory conversation; ``message_sent`` gives a local placeholder its
service id; ``set_verified`` shows a compared safety number. What the user does
in the chat lives in ``chat.py``.
"""

from __future__ import annotations

import time
from typing import Any

from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from p2pchat.core import session as core_session
from p2pchat.core.conversation import Conversation, DisappearingTimer
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.media.report_sentences import removed_summary
from p2pchat.service import events as ev
from p2pchat.tui.widgets.message_list import MessageList
from p2pchat.tui.widgets.sealed import SealedPhoto
from p2pchat.tui.widgets.status_bar import StatusBar, timer_word
from p2pchat.tui.widgets.transfer_bar import TransferPanel

TYPING_SHOWN_SECONDS = 4.0


def show_message_event(
    event: ev.ServiceEvent,
    messages: MessageList,
    transfers: TransferPanel,
    *,
    peer_label: str,
    delivered_early: set[str],
) -> None:
    """Show what every chat view shows of an event: the message list and transfer bars.

    Shared by the chat screen and the demo's panes, which then add their own
    reactions (model, status bar, how a received photo is shown). A ``Delivered``
    that beats the send's own placeholder is remembered in ``delivered_early``.
    """
    match event:
        case ev.TextReceived(message_id=mid, text=text, sent_at=sent_at):
            messages.add_text(mid, "in", peer_label, text, sent_at=sent_at, state="received")
        case ev.TransferStarted(message_id=mid, direction=direction, total_bytes=total):
            transfers.start(mid, direction, total)
        case ev.TransferProgress() as p:
            transfers.progress(
                p.message_id, p.direction, p.done_bytes, p.total_bytes, p.bytes_per_second
            )
        case ev.ImageReceived(message_id=mid):
            transfers.finish(mid)
        case ev.ImageRejected(message_id=mid, reason=reason):
            transfers.finish(mid)
            notice = t("chat.image_rejected", reason=safe_label(reason, 300))
            messages.add_notice(notice, level="error")
        case ev.Delivered(message_id=mid):
            transfers.finish(mid)
            if messages.get(mid) is None:
                delivered_early.add(mid)
            messages.set_state(mid, "delivered")
        case ev.Opened(message_id=mid):
            messages.set_state(mid, "viewed")
        case ev.TransferCancelled(message_id=mid):
            transfers.finish(mid)
            messages.set_state(mid, "cancelled")
        case _:
            pass


class ChatUpdates(Screen[None]):
    """The chat screen's half that shows what happened; ChatScreen adds the user's side."""

    # Set by ChatScreen.__init__: who the peer is and the conversation's model.
    peer_label: str
    conversation: Conversation
    verified: bool
    key_changed: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ended = False
        self._list_ids: dict[str, str] = {}  # the conversation's local ids -> service ids
        self._delivered_early: set[str] = set()
        self._typing_timer: Any = None
        self._view_once_explained = False

    def set_verified(self, verified: bool) -> None:
        self.verified = verified
        self.query_one(StatusBar).verified = verified
        if verified:
            self.key_changed = False
            self.query_one("#key-banner").display = False

    def message_sent(self, local_id: str, message_id: str | None, error: str = "") -> None:
        """A send finished: the local placeholder gets the service's id, or is marked failed."""
        messages = self.query_one(MessageList)
        if message_id is None:
            messages.set_state(local_id, "failed")
            notice = t("chat.send_failed", reason=safe_label(error, 300))
            messages.add_notice(notice, level="error")
            return
        messages.rename(local_id, message_id)
        if local_id in self.conversation:
            self._list_ids[local_id] = message_id
        delivered = message_id in self._delivered_early
        self._delivered_early.discard(message_id)
        messages.set_state(message_id, "delivered" if delivered else "sent")

    def apply_event(self, event: ev.ServiceEvent) -> None:
        """Show one service event."""
        messages = self.query_one(MessageList)
        status = self.query_one(StatusBar)
        show_message_event(
            event,
            messages,
            self.query_one(TransferPanel),
            peer_label=self.peer_label,
            delivered_early=self._delivered_early,
        )
        match event:
            case ev.TextReceived(message_id=mid, text=text, sent_at=sent_at):
                self.conversation.apply(core_session.TextReceived(mid, text, sent_at))
                self._typing(False)
            case ev.ImageReceived() as image:
                self._remember_received_image(image)
                self._show_received_image(image)
            case ev.TimerChanged(seconds=seconds, by_peer=by_peer):
                self._timer_changed(seconds, by_peer)
            case ev.ViewOnceRefused(message_id=mid):
                messages.add_notice(t("chat.view_once_refused"), level="warning")
                messages.set_state(mid, "failed")
            case ev.TransferCancelled(by_peer=by_peer):
                key = "transfer.cancelled_by_peer" if by_peer else "transfer.cancelled"
                messages.add_notice(t(key), level="warning")
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
            case ev.Failed(message=text):
                notice = t("chat.failed", reason=safe_label(text, 300))
                messages.add_notice(notice, level="error")
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
        self.conversation.set_disappearing(timer)
        self.query_one(StatusBar).timer = seconds
        who = self.peer_label if by_peer else t("chat.me")
        word = timer_word(seconds)
        key = "timer.set_off" if seconds == 0 else "timer.set_on"
        self.query_one(MessageList).add_notice(t(key, who=who, duration=word))

    def _remember_received_image(self, image: ev.ImageReceived) -> None:
        """The model's record of a received photo: for the timer and the export (which skips
        view-once). No bytes: the model never keeps any."""
        size = len(image.data)
        self.conversation.apply(
            core_session.ImageOffered(
                image.message_id,
                size,
                image.mime,
                image.width,
                image.height,
                image.view_once,
                image.view_seconds,
            )
        )
        self.conversation.apply(
            core_session.ImageComplete(
                image.message_id,
                b"",
                image.mime,
                image.width,
                image.height,
                image.view_once,
                image.view_seconds,
            )
        )

    def _show_received_image(self, image: ev.ImageReceived) -> None:
        messages = self.query_one(MessageList)
        removed = removed_summary(image.findings) if image.findings else image.removed
        # A clean arrival is said in its own words, not as "Removed: arrived clean".
        nothing_removed = t("report.nothing_found_receiver")
        vault = getattr(getattr(self.app, "service", None), "vault", None)
        if image.view_once and image.vault_id is not None and vault is not None:
            # Sealed: no thumbnail, no report, no caption; only the viewer opens it.
            self._explain_view_once()
            messages.add_item(
                SealedPhoto(
                    image.message_id,
                    self.peer_label,
                    time.time(),
                    vault=vault,
                    vault_id=image.vault_id,
                    view_seconds=image.view_seconds,
                )
            )
            return
        if image.view_once or not image.data:
            messages.add_image(
                image.message_id,
                "in",
                self.peer_label,
                b"",
                caption=t("chat.view_once_received", seconds=round(image.view_seconds)),
                report_lines=removed,
                nothing_removed=nothing_removed,
                state="received",
            )
            return
        messages.add_image(
            image.message_id,
            "in",
            self.peer_label,
            image.data,
            report_lines=removed,
            nothing_removed=nothing_removed,
            state="received",
        )

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

    def _explain_view_once(self) -> None:
        """Say once per chat, plainly, what view-once cannot do."""
        if not self._view_once_explained:
            self._view_once_explained = True
            self.query_one(MessageList).add_notice(t("view_once.first_use"), level="warning")
