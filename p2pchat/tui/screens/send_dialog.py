"""The send dialog: preview of the sanitised image and what was removed, then Send or Cancel.

Reading the file and sanitising happen in a worker (the service's
``prepare_image`` runs Pillow in an isolated child process); the dialog dismisses with a typed
``SendDialogResult`` or ``None``.

On a short terminal the middle of the dialog (preview, report, options)
scrolls and the preview shrinks, so the report shows at once and the Send and
Cancel buttons stay on screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, LoadingIndicator, Static

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import report_text
from p2pchat.tui.widgets.transfer_bar import format_size

# Checked before reading so a huge file is refused without allocating it.
MAX_SOURCE_BYTES = 200 * 1024 * 1024
PREVIEW_ROWS = 16
MIN_PREVIEW_ROWS = 3
# Rows around the scrolling body: border 2, padding 2, title 2, file name 1, buttons 4,
# and the footer with the dialog's keys 1.
FRAME_ROWS = 12
# Rows kept under the preview so the start of the report is visible without scrolling.
REPORT_ROWS = 5

PrepareImage = Callable[[bytes, bool], Awaitable[Any]]


@dataclass(frozen=True)
class SendDialogResult:
    prepared: Any  # media.sanitize.SanitizedImage
    view_once: bool
    original_size: bool


def removed_items(report: Any) -> tuple[str, ...]:
    """What the sanitiser removed, in the report's own short words ("GPS location …; camera …")."""
    return (str(report.summary()),) if report.findings else ()


def read_source(path: Path) -> bytes:
    """The file's bytes, refusing what is not a regular file or is too large."""
    if not path.is_file():
        raise P2PChatError(t("send.not_a_file", path=safe_label(str(path), 200)))
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise P2PChatError(t("send.too_large", size=format_size(size)))
    return path.read_bytes()


class SendDialog(ModalScreen[SendDialogResult | None]):
    """Shows what will be sent before it is sent."""

    BINDINGS = [
        Binding("escape", "cancel", t("keys.cancel"), id="send.cancel"),
        # The Send button is several Tabs away; a key sends once the report is shown.
        Binding("ctrl+s", "send", t("send.send"), id="send.send", priority=True),
        # One key instead of Tabbing down to the checkbox.
        Binding("ctrl+t", "toggle_view_once", t("keys.view_once_toggle"), id="send.view_once"),
    ]

    @dataclass
    class Prepared(Message):
        prepared: Any

    @dataclass
    class PrepareFailed(Message):
        reason: str

    def __init__(
        self,
        source: Path | bytes,
        prepare: PrepareImage,
        *,
        peer_view_once: bool = True,
        view_once: bool = False,
    ) -> None:
        super().__init__(id="send-dialog")
        self.view_once_at_start = view_once and peer_view_once
        self.source = source
        self.prepare = prepare
        self.peer_view_once = peer_view_once
        self.prepared: Any = None
        self._data: bytes | None = source if isinstance(source, bytes) else None

    def compose(self) -> ComposeResult:
        with Vertical(id="send-box"):
            yield Static(t("send.title"), id="send-title")
            if isinstance(self.source, Path):
                yield Static(Content(safe_label(self.source.name, 80)), id="send-file")
            with VerticalScroll(id="send-body"):
                with VerticalScroll(id="send-preview"):
                    yield LoadingIndicator()
                yield Static(t("send.sanitising"), id="send-report")
                yield Static(t("report.limits"), id="send-limits")
                yield Checkbox(t("send.original_size"), False, id="original-size")
                yield Checkbox(
                    t("send.view_once"),
                    self.view_once_at_start,
                    id="view-once",
                    disabled=not self.peer_view_once,
                )
                if not self.peer_view_once:
                    yield Static(t("send.view_once_unavailable"), classes="hint")
                else:
                    limits = Static(
                        t("view_once.limits"), classes="hint", id="send-view-once-limits"
                    )
                    # Said plainly as soon as view-once is ticked.
                    limits.display = self.view_once_at_start
                    yield limits
            # Outside the scrolling body: always on screen, however short the terminal.
            with Horizontal(id="send-buttons"):
                yield Button(t("send.send"), id="send", variant="primary", disabled=True)
                yield Button(t("send.cancel"), id="cancel")
        # The dialog's own keys (Ctrl+S, Ctrl+T, Esc), not the chat's underneath.
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.app.size.height)
        self._prepare(False)

    def on_resize(self, event: Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, rows: int) -> None:
        """Give the body what the terminal has left, and the preview what the report spares."""
        body_rows = max(rows - FRAME_ROWS, MIN_PREVIEW_ROWS + 2)
        self.query_one("#send-body").styles.max_height = body_rows
        preview_rows = min(PREVIEW_ROWS, max(MIN_PREVIEW_ROWS, body_rows - REPORT_ROWS))
        self.query_one("#send-preview").styles.height = preview_rows

    @work(exclusive=True, group="prepare", description="prepare")
    async def _prepare(self, original_size: bool) -> None:
        try:
            if self._data is None:
                assert isinstance(self.source, Path)
                self._data = await asyncio.to_thread(read_source, self.source)
            prepared = await self.prepare(self._data, original_size)
        except (P2PChatError, OSError, ValueError) as error:
            self.post_message(self.PrepareFailed(str(error)))
            return
        self.post_message(self.Prepared(prepared))

    async def on_send_dialog_prepared(self, message: Prepared) -> None:
        if not self.is_attached:
            return  # closed while the photo was being prepared
        self.prepared = message.prepared
        preview = self.query_one("#send-preview", VerticalScroll)
        await preview.remove_children()
        renderer = getattr(self.app, "image_renderer", "auto")
        await preview.mount(ImageView(self.prepared.data, renderer=renderer))
        findings = removed_items(self.prepared.report)
        size = t(
            "send.result_size",
            width=self.prepared.width,
            height=self.prepared.height,
            size=format_size(len(self.prepared.data)),
        )
        report = self.query_one("#send-report", Static)
        report.update(Content(report_text(findings) + "\n" + size))
        self.query_one("#send", Button).disabled = False

    async def on_send_dialog_prepare_failed(self, message: PrepareFailed) -> None:
        if not self.is_attached:
            return
        self.prepared = None
        await self.query_one("#send-preview", VerticalScroll).remove_children()
        report = self.query_one("#send-report", Static)
        report.update(Content(t("send.failed", reason=safe_label(message.reason, 400))))
        report.add_class("-error")
        self.query_one("#send", Button).disabled = True

    @on(Checkbox.Changed, "#view-once")
    def _view_once_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#send-view-once-limits", Static).display = event.value

    def action_toggle_view_once(self) -> None:
        box = self.query_one("#view-once", Checkbox)
        if not box.disabled:
            box.toggle()

    @on(Checkbox.Changed, "#original-size")
    def _size_changed(self, event: Checkbox.Changed) -> None:
        self.query_one("#send", Button).disabled = True
        self.query_one("#send-report", Static).update(t("send.sanitising"))
        self._prepare(event.value)

    @on(Button.Pressed, "#send")
    def action_send(self) -> None:
        if self.prepared is None:
            return
        self.dismiss(
            SendDialogResult(
                self.prepared,
                view_once=self.query_one("#view-once", Checkbox).value,
                original_size=self.query_one("#original-size", Checkbox).value,
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
