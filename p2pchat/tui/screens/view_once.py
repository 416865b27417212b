"""The view-once viewer: one photo, full pane, from memory only, with a countdown.

Owns the display side of a view-once photo. It opens the vault item (once),
decodes it from memory (``io.BytesIO`` over the vault's buffer, never a file),
shows it until Escape or the countdown ends, and then wipes everything it made:
the decoded pixels are overwritten, the image widget removed, the vault item
closed (zeroed), and on kitty-protocol terminals every image is deleted from
the terminal's memory with the graphics delete command. Anything that covers
the viewer (the command palette, a help screen) ends the viewing at once, so a
screenshot command can never capture the photo. The screen dismisses with
True when the photo was shown (the chat then sends the ``opened`` receipt) and
False when it could not be opened.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from typing import Any, Final

from PIL import Image as PILImage
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.widgets.image_view import decode_for_display, image_widget_class

DEFAULT_VIEW_SECONDS: Final = 10.0
TICK_SECONDS: Final = 0.25
# Kitty graphics protocol: delete every placement and free the image data too.
KITTY_DELETE_ALL_IMAGES: Final = "\x1b_Ga=d,d=A\x1b\\"
MAX_VIEW_LONG_EDGE: Final = 2048


def decode_from_memory(data: memoryview, long_edge: int = MAX_VIEW_LONG_EDGE) -> PILImage.Image:
    """Decode sanitised bytes without a file: raises ValueError for anything undecodable.

    ``io.BytesIO`` copies the buffer; that copy is overwritten before returning.
    """
    stream = io.BytesIO(data)
    try:
        return decode_for_display(stream, long_edge, too_large=t("image.too_large_show"))
    finally:
        with contextlib.suppress(BufferError, ValueError):
            buffer = stream.getbuffer()
            buffer[:] = bytes(len(buffer))
            buffer.release()
        stream.close()


def wipe_pixels(image: PILImage.Image | None) -> None:
    """Overwrite a decoded image's pixels in place (best effort), then close it."""
    if image is None:
        return
    with contextlib.suppress(Exception):  # a closed or odd-mode image: nothing left to wipe
        image.paste(0, (0, 0, image.width, image.height))
    with contextlib.suppress(Exception):
        image.close()


def terminal_cleanup_sequence(widget_class: type) -> str | None:
    """What to write to the terminal so it forgets the image, or None (cells are redrawn)."""
    from textual_image.renderable.tgp import Image as TGPRenderable

    if getattr(widget_class, "_Renderable", None) is TGPRenderable:
        return KITTY_DELETE_ALL_IMAGES
    return None


class ViewOnceScreen(ModalScreen[bool]):
    """Shows one view-once photo once."""

    DEFAULT_CSS = """
    ViewOnceScreen {
        background: $background;
    }
    #view-once-box {
        width: 100%;
        height: 100%;
        padding: 0 1;
        background: $background;
    }
    #view-once-countdown {
        height: 1;
        text-style: bold;
    }
    #view-once-stage {
        height: 1fr;
        width: 100%;
        align: center middle;
    }
    #view-once-stage .view-once-pixels {
        width: auto;
        height: 100%;
    }
    #view-once-limits {
        height: auto;
        color: $text-muted;
        text-style: italic;
    }
    """

    BINDINGS = [Binding("escape,enter,q", "close", t("keys.close"), id="view_once.close")]

    @dataclass
    class Decoded(Message):
        image: PILImage.Image | None
        error: str

    def __init__(
        self,
        vault: Any,
        vault_id: str,
        *,
        view_seconds: float = DEFAULT_VIEW_SECONDS,
        renderer: str = "auto",
    ) -> None:
        super().__init__(id="view-once")
        self.vault = vault
        self.vault_id = vault_id
        self.view_seconds = view_seconds if view_seconds > 0 else DEFAULT_VIEW_SECONDS
        self.renderer = renderer
        self.shown = False  # the photo was opened from the vault
        self.finished = False
        self.terminal_writes: list[str] = []
        self._image: PILImage.Image | None = None
        self._widget: Widget | None = None
        self._deadline = 0.0
        self._ticker: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(id="view-once-box"):
            yield Static("", id="view-once-countdown")
            yield Container(Static(t("image.decoding")), id="view-once-stage")
            yield Static(t("view_once.limits"), id="view-once-limits")

    def on_mount(self) -> None:
        try:
            view = self.vault.open(self.vault_id)
        except P2PChatError as error:
            self.query_one("#view-once-countdown", Static).update(Content(describe_error(error)))
            self.finished = True
            self.call_after_refresh(self.dismiss, False)
            return
        self.shown = True
        self._deadline = time.monotonic() + self.view_seconds
        self._tick()
        self._ticker = self.set_interval(TICK_SECONDS, self._tick)
        self._decode(view)

    @work(thread=True, exclusive=True, group="view-once-decode", description="decode")
    def _decode(self, view: memoryview) -> None:
        try:
            image = decode_from_memory(view)
        except (ValueError, TypeError) as error:  # TypeError: the vault wiped it meanwhile
            self.post_message(self.Decoded(None, str(error)))
            return
        finally:
            del view
        self.post_message(self.Decoded(image, ""))

    async def on_view_once_screen_decoded(self, message: Decoded) -> None:
        message.stop()
        if self.finished or not self.is_attached:
            wipe_pixels(message.image)
            return
        stage = self.query_one("#view-once-stage", Container)
        await stage.remove_children()
        if message.image is None:
            reason = safe_label(message.error, 300)
            await stage.mount(Static(Content(t("image.undecodable", reason=reason))))
            return
        self._image = message.image
        widget_class = image_widget_class(self.renderer)
        self._widget = widget_class(message.image, classes="view-once-pixels")
        await stage.mount(self._widget)

    def _tick(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self.action_close()
            return
        countdown = self.query_one("#view-once-countdown", Static)
        seconds = max(1, round(remaining + 0.49))
        countdown.update(Content(t("view_once.countdown", seconds=seconds)))

    def on_screen_suspend(self, _event: events.ScreenSuspend) -> None:
        # Something covers the viewer (palette, help): the viewing is over, before
        # anything can capture the screen.
        self._finish()

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        if self.finished and self.is_current:
            self.dismiss(self.shown)

    def action_close(self) -> None:
        self._finish()
        if self.is_current:
            self.dismiss(self.shown)

    def _finish(self) -> None:
        """Wipe everything this viewer made; idempotent."""
        if self.finished:
            return
        self.finished = True
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        widget: Any = self._widget
        self._widget = None
        sequence = None
        if widget is not None:
            sequence = terminal_cleanup_sequence(type(widget))
            renderable = getattr(widget, "_renderable", None)
            pixels = getattr(getattr(renderable, "_image_data", None), "pil_image", None)
            with contextlib.suppress(Exception):  # textual-image internals may differ
                widget.image = None  # frees the renderable (and its terminal id)
            wipe_pixels(pixels)
            widget.remove()
        wipe_pixels(self._image)
        self._image = None
        self.query_one("#view-once-stage", Container).remove_children()
        self.vault.close(self.vault_id)
        if sequence is not None:
            self._write_terminal(sequence)
        self.app.refresh(repaint=True, layout=True)

    def _write_terminal(self, sequence: str) -> None:
        self.terminal_writes.append(sequence)
        driver = getattr(self.app, "_driver", None)
        if driver is not None:
            with contextlib.suppress(Exception):  # the terminal may already be gone
                driver.write(sequence)
                driver.flush()
