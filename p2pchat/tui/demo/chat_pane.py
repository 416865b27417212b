"""One side of the demo screen: Alice's or Bob's conversation, built from the chat widgets.

Owns the presentation of one ChatService inside the two-pane demo: a title
line, the project's ``MessageList``, ``TransferPanel`` and ``Composer``. A
received view-once photo is the chat's own ``SealedPhoto``, opened in the
chat's own ``ViewOnceScreen``. The composer works as in the chat screen (text;
``/send PATH`` opens the real send dialog with its privacy report). Sends go through ``send_text`` /
``send_image``, which the lessons use too, so a lesson and the presenter's
typing take the same path to the network.
"""

from __future__ import annotations

import asyncio
import itertools
import shlex
import time
from pathlib import Path
from typing import Any, Final

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.media.report_sentences import removed_summary
from p2pchat.service import events as ev
from p2pchat.tui.demo.lessons import short_names
from p2pchat.tui.demo.stage import DemoStage, Side
from p2pchat.tui.screens.chat_updates import show_message_event
from p2pchat.tui.screens.send_dialog import SendDialog, SendDialogResult
from p2pchat.tui.screens.view_once import ViewOnceScreen
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.message_list import MessageItem, MessageList
from p2pchat.tui.widgets.sealed import SealedPhoto
from p2pchat.tui.widgets.transfer_bar import TransferPanel

_local_ids = itertools.count(1)
COMPOSE_WAIT: Final = 5.0
VIEW_ONCE_WAIT: Final = 120.0


async def _until_composed(item: MessageItem) -> None:
    """Wait until a message's widgets exist, so its delivery state can be updated."""
    deadline = asyncio.get_running_loop().time() + COMPOSE_WAIT
    while not (item.is_mounted and item.query(".message-header")):
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)


class ChatPane(Vertical):
    """Alice's or Bob's half of the screen."""

    DEFAULT_CSS = """
    ChatPane { width: 1fr; height: 1fr; border: round $primary; }
    ChatPane:focus-within { border: round $accent; }
    ChatPane .pane-title { height: 1; text-style: bold; padding: 0 1; background: $panel; }
    ChatPane MessageList { height: 1fr; padding: 0 1; }
    ChatPane TransferPanel { height: auto; display: none; }
    ChatPane TransferPanel.-active { display: block; }
    ChatPane Composer { height: auto; min-height: 3; max-height: 6; border: round $primary; }
    """

    def __init__(self, side: Side, name: str, peer_name: str, *, renderer: str = "auto") -> None:
        super().__init__(id=f"pane-{side}", classes="chat-pane")
        self.side: Side = side
        self.display_name = name
        self.peer_name = peer_name
        self.renderer = renderer
        self.stage: DemoStage | None = None
        self._delivered_early: set[str] = set()
        self._viewings: dict[str, asyncio.Future[bool]] = {}
        self._state = t("demo.pane.pairing")

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="pane-title")
        yield MessageList(renderer=self.renderer, id=f"messages-{self.side}")
        yield TransferPanel(id=f"transfers-{self.side}", classes="demo-transfers")
        yield Composer(id=f"composer-{self.side}", placeholder=t("demo.pane.placeholder"))

    @property
    def messages(self) -> MessageList:
        return self.query_one(MessageList)

    def _title(self) -> Content:
        return Content.assemble((self.display_name, "bold"), "  ", (self._state, "italic"))

    def set_state(self, text: str) -> None:
        self._state = text
        self.query_one(".pane-title", Static).update(self._title())

    def attach(self, stage: DemoStage) -> None:
        self.stage = stage
        self.set_state(t("demo.pane.connected"))
        self.messages.add_notice(t("demo.pane.paired", peer=self.peer_name))

    def notice(self, text: str, level: str = "info") -> None:
        self.messages.add_notice(text, level=level)  # type: ignore[arg-type]

    # ----- sending (lessons and the composer) --------------------------------------
    async def send_text(self, text: str) -> str:
        stage = self._require_stage()
        local_id = f"demo-{next(_local_ids)}"
        await _until_composed(self.messages.add_text(local_id, "out", self.display_name, text))
        try:
            message_id = await stage.send_text(self.side, text)
        except P2PChatError:
            self.messages.set_state(local_id, "failed")
            raise
        self._sent(local_id, message_id)
        return message_id

    async def send_image(
        self, prepared: Any, *, view_once: bool = False, view_seconds: float = 10.0
    ) -> str:
        stage = self._require_stage()
        local_id = f"demo-{next(_local_ids)}"
        # The chat widget's report line, in the demo's language (the report's own is English).
        removed = (short_names(prepared.report),) if prepared.report.findings else ()
        item = self.messages.add_image(
            local_id,
            "out",
            self.display_name,
            b"" if view_once else prepared.data,
            report_lines=removed or (t("report.nothing_found"),),
            caption=t("demo.pane.view_once_sent") if view_once else "",
        )
        await _until_composed(item)
        try:
            message_id = await stage.send_image(
                self.side, prepared, view_once=view_once, view_seconds=view_seconds
            )
        except P2PChatError:
            self.messages.set_state(local_id, "failed")
            raise
        self._sent(local_id, message_id)
        return message_id

    def _sent(self, local_id: str, message_id: str) -> None:
        self.messages.rename(local_id, message_id)
        delivered = message_id in self._delivered_early
        self._delivered_early.discard(message_id)
        self.messages.set_state(message_id, "delivered" if delivered else "sent")

    def _require_stage(self) -> DemoStage:
        if self.stage is None:
            raise P2PChatError(t("demo.pane.not_ready"))
        return self.stage

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        message.stop()
        text = message.text.strip("\n")
        if text.startswith("/"):
            self._command(text)
        else:
            self._send_text_worker(text)

    def _command(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if words and words[0].lower() == "/send" and len(words) > 1:
            self._open_send_dialog(Path(" ".join(words[1:])).expanduser())
        else:
            self.notice(t("demo.pane.commands"), level="warning")

    def _open_send_dialog(self, path: Path) -> None:
        stage = self.stage
        if stage is None:
            self.notice(t("demo.pane.not_ready"), level="warning")
            return
        service = stage.services[self.side]

        async def prepare(data: bytes, original_size: bool, **fixes: Any) -> Any:
            return await service.prepare_image(data, original_size=original_size, **fixes)

        def chosen(result: SendDialogResult | None) -> None:
            if result is not None:
                self._send_image_worker(result.prepared, result.view_once)

        peer_view_once = stage.paired[self.side].peer_view_once if stage.paired else False
        self.app.push_screen(SendDialog(path, prepare, peer_view_once=peer_view_once), chosen)

    @work(group="pane-send", exit_on_error=False, description="send text worker")
    async def _send_text_worker(self, text: str) -> None:
        try:
            await self.send_text(text)
        except P2PChatError as error:
            self.notice(t("chat.send_failed", reason=safe_label(str(error), 300)), "error")

    @work(group="pane-send", exit_on_error=False, description="send image worker")
    async def _send_image_worker(self, prepared: Any, view_once: bool) -> None:
        try:
            await self.send_image(prepared, view_once=view_once)
        except P2PChatError as error:
            self.notice(t("chat.send_failed", reason=safe_label(str(error), 300)), "error")

    # ----- view once (the chat's own viewer) ----------------------------------------
    async def open_view_once(self, message_id: str, timeout: float = VIEW_ONCE_WAIT) -> bool:
        """Open a received view-once photo as the user would (Enter on the sealed line).

        Returns once the viewer closed and the receipt was queued: True if it was shown.
        """
        sealed = self.messages.get(message_id)
        if not isinstance(sealed, SealedPhoto):
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._viewings[message_id] = future
        sealed.request_open()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._viewings.pop(message_id, None)

    @on(SealedPhoto.OpenRequested)
    def _open_view_once(self, message: SealedPhoto.OpenRequested) -> None:
        message.stop()
        sealed = message.sealed

        def closed(shown: bool | None) -> None:
            if not shown:
                sealed.mark_gone("expired")
                self.notice(t("view_once.gone"), "warning")
                self._viewed(sealed.message_id, False)
                return
            sealed.mark_gone("viewed")
            self._send_opened(sealed.message_id)

        viewer = ViewOnceScreen(
            sealed.vault,
            sealed.vault_id,
            view_seconds=sealed.view_seconds,
            renderer=self.renderer,
        )
        self.app.push_screen(viewer, closed)

    @work(group="pane-view-once", exit_on_error=False, description="send opened")
    async def _send_opened(self, message_id: str) -> None:
        stage = self.stage
        try:
            if stage is not None:
                await stage.services[self.side].mark_opened(message_id)
        except P2PChatError:
            pass  # the peer may have left; the photo is gone either way
        self._viewed(message_id, True)

    def _viewed(self, message_id: str, shown: bool) -> None:
        future = self._viewings.get(message_id)
        if future is not None and not future.done():
            future.set_result(shown)

    # ----- attributes down --------------------------------------------------------
    def apply_event(self, event: ev.ServiceEvent) -> None:
        messages = self.messages
        show_message_event(
            event,
            messages,
            self.query_one(TransferPanel),
            peer_label=self.peer_name,
            delivered_early=self._delivered_early,
        )
        match event:
            case ev.ImageReceived() as image:
                self._show_received(image)
            case ev.PeerLeft() | ev.Closed():
                self.set_state(t("demo.pane.closed"))
            case ev.Failed(message=text):
                messages.add_notice(t("chat.failed", reason=safe_label(text, 300)), level="error")
                self.set_state(t("demo.pane.closed"))
            case _:
                pass

    def _show_received(self, image: ev.ImageReceived) -> None:
        removed = removed_summary(image.findings) if image.findings else image.removed
        # A clean arrival is said once, in its own words (not "Removed: arrived clean").
        clean = t("report.nothing_found_receiver")
        if image.view_once and image.vault_id is not None and self.stage is not None:
            # The chat's own sealed placeholder: no thumbnail, no report, opens once.
            self.messages.add_item(
                SealedPhoto(
                    image.message_id,
                    self.peer_name,
                    time.time(),
                    vault=self.stage.services[self.side].vault,
                    vault_id=image.vault_id,
                    view_seconds=image.view_seconds,
                )
            )
            return
        if image.view_once or not image.data:
            self.messages.add_image(
                image.message_id,
                "in",
                self.peer_name,
                b"",
                caption=t("demo.pane.view_once_sealed", seconds=round(image.view_seconds)),
                report_lines=removed,
                nothing_removed=clean,
                state="received",
            )
            return
        self.messages.add_image(
            image.message_id,
            "in",
            self.peer_name,
            image.data,
            report_lines=removed,
            nothing_removed=clean,
            state="received",
        )
