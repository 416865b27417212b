"""Inline images: decoded off the event loop, drawn with textual-image.

textual-image picks the terminal's best protocol (kitty graphics, sixel, or
coloured half cells). The app can force half cells (``image_renderer="halfcell"``)
so that snapshots and dumb terminals are deterministic. The bytes given here are
already sanitised; they are decoded in a thread worker and shrunk to a preview
size, so a large photo never stalls typing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal

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


#: Terminal multiplexers that pass unknown escape sequences on as window titles:
#: tmux and GNU screen turn the kitty-graphics probe (an APC string) into the pane
#: title, so under them nothing is asked and half cells are used.
MULTIPLEXER_VARIABLES = ("TMUX", "STY")
#: The kitty graphics query is only sent to terminals that say they speak it: every
#: other terminal may print or keep it, and a sixel/half-cell terminal has no use for it.
KITTY_TERM_HINTS = ("kitty", "ghostty", "wezterm")


@dataclass(frozen=True)
class ProbePolicy:
    """Which terminal questions may be asked before Textual starts."""

    sixel: bool  # DA1 (ESC [ c): answered by every VT-compatible terminal, never shown
    kitty: bool  # the kitty graphics query (an APC string)
    cell_size: bool  # ESC [ 16 t, only when the window-size ioctl gave no pixels


def probe_policy(renderer: str, environ: Mapping[str, str]) -> ProbePolicy:
    """What to ask the terminal about graphics, given the chosen renderer and env."""
    if renderer != "auto" or any(environ.get(name) for name in MULTIPLEXER_VARIABLES):
        return ProbePolicy(sixel=False, kitty=False, cell_size=False)
    hints = " ".join(
        environ.get(name, "") for name in ("TERM", "TERM_PROGRAM", "KITTY_WINDOW_ID")
    ).lower()
    kitty = bool(environ.get("KITTY_WINDOW_ID")) or any(hint in hints for hint in KITTY_TERM_HINTS)
    return ProbePolicy(sixel=True, kitty=kitty, cell_size=True)


def load_image_support(renderer: str = "auto", environ: Mapping[str, str] | None = None) -> str:
    """Import textual-image before Textual starts and return the renderer to use.

    textual-image asks the terminal about graphics when it is imported (sixel, the
    kitty graphics protocol, the cell size). Only the questions ``probe_policy``
    allows are sent, so a chosen renderer or a multiplexer leaves no trace in the
    pane title, the scrollback or the shell. Returns ``"halfcell"`` whenever no
    graphics protocol may be used.
    """
    policy = probe_policy(renderer, os.environ if environ is None else environ)
    # A terminal that does not answer the graphics queries is normal (half cells are
    # used then); textual-image's tracebacks about it would only scare people.
    logging.getLogger("textual_image").setLevel(logging.ERROR)
    from textual_image import _terminal

    asked = _terminal.capture_terminal_response
    allowed = {"\x1b[?": policy.sixel, "\x1b_G": policy.kitty, "\x1b[": policy.cell_size}

    @contextlib.contextmanager
    def only_allowed(start_marker: str, end_marker: str, timeout: float | None = None) -> Any:
        # Refusing on entry means the probe's body, which writes the query, never runs.
        if not allowed.get(start_marker, False):
            raise _terminal.TerminalError("not asked: p2pchat's probe policy")
        with asked(start_marker, end_marker, timeout) as response:
            yield response

    _terminal.capture_terminal_response = only_allowed
    try:
        import textual_image.widget
    except (ZeroDivisionError, OSError, ValueError, TimeoutError) as error:
        log.debug("terminal did not report its cell size (%s); assuming a default", error)
        _terminal.get_cell_size._result = _terminal.CellSize(*FALLBACK_CELL_SIZE)  # type: ignore[attr-defined]
        import textual_image.widget  # noqa: F401

        return "halfcell"
    finally:
        _terminal.capture_terminal_response = asked
    if renderer != "auto" or not (policy.sixel or policy.kitty):
        return "halfcell"
    return renderer


def image_widget_class(renderer: str) -> type:
    """The textual-image widget class for a renderer name."""
    from textual_image.widget import HalfcellImage, Image

    return HalfcellImage if renderer == "halfcell" else Image


def decode_preview(data: bytes, long_edge: int = PREVIEW_LONG_EDGE) -> PILImage.Image:
    """Decode sanitised bytes into a small RGB(A) image for display; raises ValueError."""
    return decode_for_display(io.BytesIO(data), long_edge)


def decode_for_display(
    stream: IO[bytes], long_edge: int, *, too_large: str | None = None
) -> PILImage.Image:
    """Decode a sanitised JPEG or PNG stream, shrunk to ``long_edge``; raises ValueError.

    Shared by the inline preview and the view-once viewer, so both keep the same
    formats, pixel fence and decoder errors.
    """
    try:
        with PILImage.open(stream, formats=["JPEG", "PNG"]) as opened:
            if opened.width * opened.height > MAX_PREVIEW_PIXELS:
                raise ValueError(too_large or t("image.too_large_preview"))
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
