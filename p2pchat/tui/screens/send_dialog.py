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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import MouseDown, MouseUp, Resize
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, LoadingIndicator, Static

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.media.policy import CONTENT_CATEGORIES
from p2pchat.media.report import PrivacyReport
from p2pchat.service.photos import read_photo as read_source  # the file and its limit
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.widgets.fix_box import SendFixes, draw_box
from p2pchat.tui.widgets.image_view import ImageView
from p2pchat.tui.widgets.message_list import report_text
from p2pchat.tui.widgets.transfer_bar import format_size

PREVIEW_ROWS = 16
MIN_PREVIEW_ROWS = 3
# Rows around the scrolling body: border 2, padding 2, title 2, file name 1, buttons 4,
# and the footer with the dialog's keys 1.
FRAME_ROWS = 12
# Rows kept under the preview so the start of the report is visible without scrolling.
REPORT_ROWS = 5

# prepare(data, original_size) or, with fixes, prepare(data, original_size, fixes=, max_side=)
PrepareImage = Callable[..., Awaitable[Any]]
# Keys that place a hand-drawn box: only while one is being drawn.
_BOX_ACTIONS = frozenset({"box_move", "box_resize", "box_apply"})


@dataclass(frozen=True)
class SendDialogResult:
    prepared: Any  # media.sanitize.SanitizedImage
    view_once: bool
    original_size: bool


def removed_items(report: Any) -> tuple[str, ...]:
    """What the sanitiser removed, in the report's own short words ("GPS location …; camera …")."""
    kept = [f for f in report.findings if f.category not in CONTENT_CATEGORIES]
    if not kept:
        return ()
    return (PrivacyReport(report.format, report.width, report.height, kept).summary(),)


def content_items(report: Any) -> str:
    """What the picture shows and what was blurred, in the reader's language, or ""."""
    shown = [f for f in report.findings if f.category in CONTENT_CATEGORIES]
    if not shown:
        return ""
    return PrivacyReport(report.format, report.width, report.height, shown).summary()


class SendDialog(ModalScreen[SendDialogResult | None]):
    """Shows what will be sent before it is sent."""

    BINDINGS = [
        Binding("escape", "cancel", t("keys.cancel"), id="send.cancel"),
        # The Send button is several Tabs away; a key sends once the report is shown.
        Binding("ctrl+s", "send", t("send.send"), id="send.send", priority=True),
        # One key instead of Tabbing down to the checkbox.
        Binding("ctrl+t", "toggle_view_once", t("keys.view_once_toggle"), id="send.view_once"),
        # Fix what the picture shows (media/content_fix.py does it, in the worker).
        Binding("f", "blur_faces", t("send.fix.blur_faces"), id="send.blur_faces"),
        Binding("t", "blur_text", t("send.fix.blur_text"), id="send.blur_text"),
        Binding("b", "draw_box", t("send.fix.draw_box"), id="send.draw_box"),
        Binding("r", "resolution", t("send.fix.resolution"), id="send.resolution"),
        *(
            Binding(key, f"box_move({dx}, {dy})", t("send.fix.move_box"), show=False, priority=True)
            for key, dx, dy in (("left", -1, 0), ("right", 1, 0), ("up", 0, -1), ("down", 0, 1))
        ),
        *(
            Binding(
                f"shift+{key}",
                f"box_resize({dx}, {dy})",
                t("send.fix.resize_box"),
                show=False,
                priority=True,
            )
            for key, dx, dy in (("left", -1, 0), ("right", 1, 0), ("up", 0, -1), ("down", 0, 1))
        ),
        Binding("enter", "box_apply", t("send.fix.apply_box"), priority=True),
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
        self.fixes = SendFixes()
        self._drag_start: tuple[float, float] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="send-box"):
            yield Static(t("send.title"), id="send-title")
            if isinstance(self.source, Path):
                yield Static(Content(safe_label(self.source.name, 80)), id="send-file")
            with VerticalScroll(id="send-body"):
                with VerticalScroll(id="send-preview"):
                    yield LoadingIndicator()
                yield Static(t("send.sanitising"), id="send-report")
                yield Static("", id="send-content")
                yield Static(t("send.fix.hint"), classes="hint", id="send-fix-hint")
                yield Static(t("report.content.limits"), classes="hint", id="send-content-limits")
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
            options: dict[str, Any] = {}
            if self.fixes.active:
                options = {"fixes": self.fixes.content, "max_side": self.fixes.max_side}
            prepared = await self.prepare(self._data, original_size, **options)
        except (P2PChatError, OSError, ValueError) as error:
            self.post_message(self.PrepareFailed(describe_error(error)))
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
        shown = content_items(self.prepared.report)
        self.query_one("#send-content", Static).update(
            Content(t("report.content.title") + " " + safe_label(shown, 600))
            if shown
            else t("report.content.nothing")
        )
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
        if self.fixes.drawing is not None:  # Esc first leaves the box being drawn
            self.fixes = self.fixes.cancel_box()
            self.run_worker(self._show_preview(), exclusive=True, group="preview")
            return
        self.dismiss(None)

    # ------------------------------------------------------------- fixing the picture
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _BOX_ACTIONS:
            return self.fixes.drawing is not None
        return True

    def _refix(self, fixes: SendFixes) -> None:
        """Prepare the photo again with the new fixes: the preview shows the result."""
        self.fixes = fixes
        self.prepared = None
        self.query_one("#send", Button).disabled = True
        self.query_one("#send-report", Static).update(t("send.sanitising"))
        self.refresh_bindings()
        self._prepare(self.query_one("#original-size", Checkbox).value)

    def action_blur_faces(self) -> None:
        self._refix(replace(self.fixes, blur_faces=not self.fixes.blur_faces))

    def action_blur_text(self) -> None:
        self._refix(replace(self.fixes, blur_text=not self.fixes.blur_text))

    def action_resolution(self) -> None:
        self._refix(self.fixes.next_resolution())

    def action_draw_box(self) -> None:
        if self.prepared is None:
            return
        self._set_drawing(self.fixes.start_box())

    def action_box_move(self, dx: int, dy: int) -> None:
        self._set_drawing(self.fixes.move(dx, dy))

    def action_box_resize(self, dw: int, dh: int) -> None:
        self._set_drawing(self.fixes.resize(dw, dh))

    def action_box_apply(self) -> None:
        self._refix(self.fixes.apply_box())

    def _set_drawing(self, fixes: SendFixes) -> None:
        self.fixes = fixes
        self.refresh_bindings()
        self.run_worker(self._show_preview(), exclusive=True, group="preview")

    async def _show_preview(self) -> None:
        """The prepared photo, with the box being drawn outlined on it."""
        if self.prepared is None:
            return
        data = self.prepared.data
        if self.fixes.drawing is not None:
            data = await asyncio.to_thread(draw_box, data, self.fixes.drawing)
        preview = self.query_one("#send-preview", VerticalScroll)
        await preview.remove_children()
        renderer = getattr(self.app, "image_renderer", "auto")
        await preview.mount(ImageView(data, renderer=renderer))

    def _fraction(self, x: int, y: int) -> tuple[float, float] | None:
        region = self.query_one("#send-preview").region
        if not region.contains(x, y) or region.width < 2 or region.height < 2:
            return None
        return (x - region.x) / (region.width - 1), (y - region.y) / (region.height - 1)

    def on_mouse_down(self, event: MouseDown) -> None:
        if self.prepared is not None:
            self._drag_start = self._fraction(event.screen_x, event.screen_y)

    def on_mouse_up(self, event: MouseUp) -> None:
        start, self._drag_start = self._drag_start, None
        end = self._fraction(event.screen_x, event.screen_y)
        if start is not None and end is not None and start != end:
            self._set_drawing(self.fixes.drag(start, end))
