"""The send dialog's fixes: what to blur, a box drawn by hand, and a lower resolution.

``SendFixes`` is the sender's current choice (pure data: tested without a terminal);
``draw_box`` marks the box being drawn on the preview so the sender sees where it
is before it is pixelated. The pixelation itself runs in the image worker
(``media/content_fix.py``), on the full picture, never on the preview.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

from p2pchat.media.content_scan import Box
from p2pchat.media.policy import ContentFixes

# The lower resolutions offered, in turn; None is the usual size.
RESOLUTIONS: tuple[int | None, ...] = (None, 1024, 640)
STEP = 0.02  # one arrow press moves or resizes the box by 2 % of the picture
MIN_SIDE = 0.04
START = Box(0.35, 0.35, 0.3, 0.3)


@dataclass(frozen=True)
class SendFixes:
    """Blur faces, blur text, hand-drawn boxes, and a chosen long edge."""

    blur_faces: bool = False
    blur_text: bool = False
    boxes: tuple[Box, ...] = ()
    max_side: int | None = None
    drawing: Box | None = None  # the box being placed, not yet applied

    @property
    def content(self) -> ContentFixes:
        return ContentFixes(self.blur_faces, self.blur_text, self.boxes)

    @property
    def active(self) -> bool:
        return self.content.active or self.max_side is not None

    def next_resolution(self) -> SendFixes:
        index = RESOLUTIONS.index(self.max_side) if self.max_side in RESOLUTIONS else 0
        return replace(self, max_side=RESOLUTIONS[(index + 1) % len(RESOLUTIONS)])

    def start_box(self) -> SendFixes:
        return replace(self, drawing=self.drawing or START)

    def move(self, dx: int, dy: int) -> SendFixes:
        box = self.drawing or START
        x = min(max(0.0, box.x + dx * STEP), 1.0 - box.w)
        y = min(max(0.0, box.y + dy * STEP), 1.0 - box.h)
        return replace(self, drawing=Box(x, y, box.w, box.h))

    def resize(self, dw: int, dh: int) -> SendFixes:
        box = self.drawing or START
        w = min(max(MIN_SIDE, box.w + dw * STEP), 1.0 - box.x)
        h = min(max(MIN_SIDE, box.h + dh * STEP), 1.0 - box.y)
        return replace(self, drawing=Box(box.x, box.y, w, h))

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> SendFixes:
        """A box from two corners given as fractions of the preview (mouse drag)."""
        (x0, y0), (x1, y1) = start, end
        left, right = sorted((min(max(x0, 0.0), 1.0), min(max(x1, 0.0), 1.0)))
        top, bottom = sorted((min(max(y0, 0.0), 1.0), min(max(y1, 0.0), 1.0)))
        w, h = max(MIN_SIDE, right - left), max(MIN_SIDE, bottom - top)
        return replace(self, drawing=Box(min(left, 1.0 - w), min(top, 1.0 - h), w, h))

    def apply_box(self) -> SendFixes:
        if self.drawing is None:
            return self
        return replace(self, boxes=(*self.boxes, self.drawing), drawing=None)

    def cancel_box(self) -> SendFixes:
        return replace(self, drawing=None)


def draw_box(data: bytes, box: Box, long_edge: int = 512) -> bytes:
    """The preview with ``box`` outlined (PNG bytes), so the sender sees what will be hidden."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    image.thumbnail((long_edge, long_edge))
    left, top, right, bottom = box.pixels(image.width, image.height)
    pen = ImageDraw.Draw(image)
    width = max(2, image.width // 150)
    corners = (left, top, max(left, right - 1), max(top, bottom - 1))
    pen.rectangle(corners, outline=(0, 0, 0), width=width + 2)  # seen on light and dark
    pen.rectangle(corners, outline=(255, 220, 0), width=width)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
