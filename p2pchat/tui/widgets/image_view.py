"""Inline images: decoded off the event loop, drawn with textual-image.

textual-image picks the terminal's best protocol (kitty graphics, sixel, or
coloured half cells). The app can force half cells (``image_renderer="halfcell"``)
so that snapshots and dumb terminals are deterministic. The bytes given here are
already sanitised; they are decoded in a thread worker and shrunk to a preview
size, so a large photo never stalls typing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import IO, Literal

from PIL import Image as PILImage
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from p2pchat.core.labels import safe_label
from p2pchat.i18n import t

log = logging.getLogger(__name__)
ImageRenderer = Literal["auto", "halfcell"]
PREVIEW_LONG_EDGE = 1024
# Decoding is bounded by the sanitiser's limits already; this is a second fence
# so a display bug can never decode a bomb.
MAX_PREVIEW_PIXELS = 64_000_000


# Typical cell size in pixels, assumed when the terminal will not say.
FALLBACK_CELL_SIZE = (10, 20)


def load_image_support() -> bool:
    """Import textual-image (it asks the terminal about graphics) before Textual starts.

    Returns False when the terminal could not be asked (no window size, as under
    ``script``); then a default cell size is assumed and half cells should be used.
    """
    # A terminal that does not answer the graphics queries is normal (half cells are
    # used then); textual-image's tracebacks about it would only scare people.
    logging.getLogger("textual_image").setLevel(logging.ERROR)
    try:
        import textual_image.widget
    except (ZeroDivisionError, OSError, ValueError, TimeoutError) as error:
        from textual_image import _terminal

        log.debug("terminal did not report its cell size (%s); assuming a default", error)
        _terminal.get_cell_size._result = _terminal.CellSize(*FALLBACK_CELL_SIZE)  # type: ignore[attr-defined]
        import textual_image.widget  # noqa: F401

        return False
    return True


def image_widget_class(renderer: str) -> type:
    """The textual-image widget class for a renderer name."""
    from textual_image.widget import HalfcellImage, Image

    return HalfcellImage if renderer == "halfcell" else Image


def decode_preview(data: bytes, long_edge: int = PREVIEW_LONG_EDGE) -> PILImage.Image:
    """Decode sanitised bytes into a small RGB(A) image for display; raises ValueError."""
    return decode_for_display(io.BytesIO(data), long_edge)


def decode_for_display(
    stream: IO[bytes], long_edge: int, *, too_large: str = "image too large to preview"
) -> PILImage.Image:
    """Decode a sanitised JPEG or PNG stream, shrunk to ``long_edge``; raises ValueError.

    Shared by the inline preview and the view-once viewer, so both keep the same
    formats, pixel fence and decoder errors.
    """
    try:
        with PILImage.open(stream, formats=["JPEG", "PNG"]) as opened:
            if opened.width * opened.height > MAX_PREVIEW_PIXELS:
                raise ValueError(too_large)
            opened.draft("RGB", (long_edge, long_edge))
            image = opened.convert("RGBA" if opened.mode in ("RGBA", "LA", "P") else "RGB")
        image.thumbnail((long_edge, long_edge))
        return image
    except (OSError, SyntaxError, PILImage.DecompressionBombError) as error:
        raise ValueError(str(error)) from error


class ImageView(Container, can_focus=True):
    """A focusable image; Enter or a click asks to see it larger."""

    BINDINGS = [Binding("enter", "select", t("keys.view_image"), id="image.view")]

    @dataclass
    class Selected(Message):
        view: ImageView

    @dataclass
    class Decoded(Message):
        image: PILImage.Image | None
        error: str

    def __init__(
        self,
        data: bytes,
        *,
        renderer: str = "auto",
        message_id: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.data = data
        self.renderer = renderer
        self.message_id = message_id

    def compose(self) -> ComposeResult:
        yield Static(t("image.decoding"), classes="image-placeholder")

    def on_mount(self) -> None:
        self._decode(self.data)

    @work(thread=True, exclusive=True, group="decode", description="decode")
    def _decode(self, data: bytes) -> None:
        try:
            self.post_message(self.Decoded(decode_preview(data), ""))
        except ValueError as error:
            self.post_message(self.Decoded(None, str(error)))

    async def on_image_view_decoded(self, message: ImageView.Decoded) -> None:
        message.stop()
        # The message may have gone while the photo was decoding (a disappearing
        # timer, a view-once expiry, a lesson moving on): then there is nowhere to show it.
        if not self.is_attached:
            return
        await self.query(".image-placeholder").remove()
        if not self.is_attached:
            return
        if message.image is None:
            reason = safe_label(message.error, 300)
            await self.mount(Static(Content(t("image.undecodable", reason=reason))))
            return
        widget_class = image_widget_class(self.renderer)
        await self.mount(widget_class(message.image, classes="image-pixels"))

    def action_select(self) -> None:
        self.post_message(self.Selected(self))

    def on_click(self) -> None:
        self.post_message(self.Selected(self))
