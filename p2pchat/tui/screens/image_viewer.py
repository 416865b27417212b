"""A larger view of one image from the conversation; Escape closes it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from p2pchat.i18n import t
from p2pchat.tui.widgets.image_view import ImageView


class ImageViewerScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", t("keys.close"), id="viewer.close")]

    def __init__(self, data: bytes, *, renderer: str = "auto") -> None:
        super().__init__(id="image-viewer")
        self.data = data
        self.renderer = renderer

    def compose(self) -> ComposeResult:
        with Vertical(id="viewer-box"):
            yield ImageView(self.data, renderer=self.renderer, id="viewer-image")
            yield Static(t("viewer.hint"), id="viewer-hint")

    def action_close(self) -> None:
        self.dismiss(None)
