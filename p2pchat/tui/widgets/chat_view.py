"""The one way a chat is drawn: service events into the message list and the transfer bars.

``ChatView`` is shared by the chat screen and the demo's panes, so a message
looks the same in both: what arrived (texts, photos, the sealed placeholder of a
view-once photo), our own sends from placeholder to the service's id, transfer
bars, the notices that belong to messages, and what the disappearing timer
took away. It never keeps a message's state itself: each message shows the
state the service's conversation (``ChatService.conversation``) holds for it,
and only a chat drawn without a service (a screen on its own) falls back on
what the event says. The screens keep their own chrome (status bar, titles).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from p2pchat.core.labels import safe_label
from p2pchat.core.message import ConversationView, MessageState, ViewOnceState
from p2pchat.i18n import t
from p2pchat.i18n.error_words import failure_text
from p2pchat.media.report_sentences import removed_summary
from p2pchat.service import events as ev
from p2pchat.tui.widgets.message_list import ImageMessage, MessageList, TextMessage
from p2pchat.tui.widgets.sealed import SealedPhoto
from p2pchat.tui.widgets.transfer_bar import TransferPanel

# What an event says of its message's state, for a chat drawn without a service.
_SAID: dict[type[ev.ServiceEvent], tuple[MessageState, ViewOnceState | None]] = {
    ev.TextReceived: (MessageState.RECEIVED, None),
    ev.ImageReceived: (MessageState.RECEIVED, None),
    ev.Delivered: (MessageState.DELIVERED, None),
    ev.Opened: (MessageState.DELIVERED, ViewOnceState.OPENED),
    ev.TransferCancelled: (MessageState.CANCELLED, None),
    ev.ViewOnceRefused: (MessageState.FAILED, None),
}


class ChatView:
    """Draws one chat's messages from service events (see the module docstring)."""

    def __init__(
        self,
        messages: MessageList,
        transfers: TransferPanel,
        *,
        peer_label: Callable[[], str],
        conversation: Callable[[], ConversationView | None],
        vault: Callable[[], Any],
    ) -> None:
        self.messages = messages
        self.transfers = transfers
        self._peer_label = peer_label
        self._conversation = conversation
        self._vault = vault
        self._view_once_explained = False

    # ------------------------------------------------------------ service events
    def show(self, event: ev.ServiceEvent) -> None:
        """Draw what one service event changes in the message list and the transfer bars."""
        messages, transfers = self.messages, self.transfers
        match event:
            case ev.TextReceived(message_id=mid, text=text, sent_at=sent_at):
                peer = self._peer_label()
                messages.add_text(mid, "in", peer, text, sent_at=sent_at, state=self._state(event))
            case ev.TransferStarted(message_id=mid, direction=direction, total_bytes=total):
                transfers.start(mid, direction, total)
            case ev.TransferProgress() as p:
                transfers.progress(
                    p.message_id, p.direction, p.done_bytes, p.total_bytes, p.bytes_per_second
                )
                self._refresh(p.message_id, event)
            case ev.ImageReceived() as image:
                transfers.finish(image.message_id)
                self._show_received_image(image)
            case ev.ImageRejected(message_id=mid, reason=reason):
                transfers.finish(mid)
                notice = t("chat.image_rejected", reason=safe_label(reason, 300))
                messages.add_notice(notice, level="error")
            case ev.Delivered(message_id=mid) | ev.Opened(message_id=mid):
                transfers.finish(mid)
                self._refresh(mid, event)
            case ev.TransferCancelled(message_id=mid, by_peer=by_peer):
                transfers.finish(mid)
                self._refresh(mid, event)
                key = "transfer.cancelled_by_peer" if by_peer else "transfer.cancelled"
                messages.add_notice(t(key), level="warning")
            case ev.ViewOnceRefused(message_id=mid):
                messages.add_notice(t("chat.view_once_refused"), level="warning")
                self._refresh(mid, event)
            case ev.Failed():
                notice = t("chat.failed", reason=safe_label(failure_text(event), 300))
                messages.add_notice(notice, level="error")
            case _:
                pass

    def _state(self, event: ev.TextReceived | ev.ImageReceived) -> MessageState:
        return self._model_state(event.message_id, event)[0]

    def _model_state(
        self, message_id: str, event: ev.ServiceEvent | None
    ) -> tuple[MessageState, ViewOnceState | None]:
        conversation = self._conversation()
        message = conversation.get(message_id) if conversation is not None else None
        if message is not None:
            return message.state, message.view_once
        if event is not None and type(event) in _SAID:
            return _SAID[type(event)]
        return MessageState.SENT, None

    def _refresh(self, message_id: str, event: ev.ServiceEvent | None) -> None:
        item = self.messages.get(message_id)
        if item is None:
            return
        conversation = self._conversation()
        known = conversation is not None and message_id in conversation
        if not known and (event is None or type(event) not in _SAID):
            return  # nothing to say: keep what is shown
        state, view_once = self._model_state(message_id, event)
        self.messages.set_state(message_id, state, view_once)

    def _show_received_image(self, image: ev.ImageReceived) -> None:
        messages = self.messages
        peer = self._peer_label()
        # A clean arrival is said in its own words, not as "Removed: arrived clean".
        nothing_removed = t("report.nothing_found_receiver")
        vault = self._vault()
        if image.view_once and image.vault_id is not None and vault is not None:
            # Sealed: no thumbnail, no report, no caption; only the viewer opens it.
            self.explain_view_once()
            messages.add_item(
                SealedPhoto(
                    image.message_id,
                    peer,
                    time.time(),
                    vault=vault,
                    vault_id=image.vault_id,
                    view_seconds=image.view_seconds,
                )
            )
            return
        without_bytes = image.view_once or not image.data
        messages.add_image(
            image.message_id,
            "in",
            peer,
            b"" if without_bytes else image.data,
            caption=(
                t("chat.view_once_received", seconds=round(image.view_seconds))
                if without_bytes
                else ""
            ),
            # In the reader's language when the findings came with it (sentences built here).
            report_lines=removed_summary(image.findings) if image.findings else image.removed,
            nothing_removed=nothing_removed,
            state=self._state(image),
        )

    def explain_view_once(self) -> None:
        """Say once per chat, plainly, what view-once cannot do."""
        if not self._view_once_explained:
            self._view_once_explained = True
            self.messages.add_notice(t("view_once.first_use"), level="warning")

    # ------------------------------------------------------------ our own sends
    def add_own_text(self, local_id: str, sender: str, text: str) -> TextMessage:
        """A text on its way: shown at once under a local id until the service names it."""
        return self.messages.add_text(local_id, "out", sender, text)

    def add_own_image(
        self,
        local_id: str,
        sender: str,
        data: bytes,
        *,
        view_once: bool,
        report_lines: tuple[str, ...],
        nothing_removed: str = "",
    ) -> ImageMessage:
        """A photo on its way; the sender keeps no viewable copy of a view-once photo."""
        if view_once:
            self.explain_view_once()
        return self.messages.add_image(
            local_id,
            "out",
            sender,
            b"" if view_once else data,
            report_lines=report_lines,
            nothing_removed=nothing_removed,
            caption=t("chat.view_once_caption") if view_once else "",
            view_once=ViewOnceState.SEALED if view_once else None,
        )

    def sent(self, local_id: str, message_id: str | None, error: str = "") -> None:
        """A send finished: the placeholder takes the service's id and state, or failed."""
        if message_id is None:
            self.messages.set_state(local_id, MessageState.FAILED)
            notice = t("chat.send_failed", reason=safe_label(error, 300))
            self.messages.add_notice(notice, level="error")
            return
        self.messages.rename(local_id, message_id)
        state, view_once = self._model_state(message_id, None)
        self.messages.set_state(message_id, state, view_once)

    # ------------------------------------------------------------ the timer
    def remove_expired(self) -> list[str]:
        """Take off the list what the disappearing timer removed from the conversation."""
        conversation = self._conversation()
        if conversation is None:
            return []
        present = {message.id for message in conversation.messages()}
        shown = [mid for mid in self.messages.message_ids() if mid not in present]
        gone = [mid for mid in shown if conversation.is_gone(mid)]
        for message_id in gone:
            item = self.messages.remove_message(message_id)
            if isinstance(item, SealedPhoto):
                # An unopened view-once photo disappears with its placeholder.
                item.vault.close(item.vault_id)
        return gone
