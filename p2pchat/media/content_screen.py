"""Is a block of text on a screen rather than on paper? Pure pixels, no model.

Two looks are named a screen. Dark mode: many lines of light letters on a dark
ground (a terminal, a chat in dark mode). Light mode: dark letters on a bright,
evenly lit rectangle that is framed all round by something much darker (the bezel
of a phone or a monitor): paper on a table is surrounded by the table, which is
rarely that much darker than the paper. A sheet of paper on a black desk, and a
screen photographed so close that no bezel shows, are the known confusions
(``docs/content-xray.md``).
"""

from __future__ import annotations

from typing import Any

# Dark mode: many lines, and letters covering the smaller, bright share of the block.
DARK_MODE_LINES = 8
LIGHT_MODE_LINES = 3
# The bright rectangle: nearly as full as its turned bounding rectangle, and even.
MIN_RECTANGULARITY = 0.85
MAX_GROUND_SPREAD = 12.0  # grey levels (standard deviation) of the lit ground
# The frame round it: this share of a thin ring outside is below this share of the ground.
MIN_DARK_FRAME = 0.8
DARK_FRAME_LEVEL = 0.35


def on_screen(grey: Any, box: tuple[int, int, int, int], lines: int) -> bool:
    """Whether the text block at ``box`` (left, top, right, bottom pixels of ``grey``) is
    shown on a screen, in dark mode or in light mode."""
    import cv2

    left, top, right, bottom = box
    patch = grey[top:bottom, left:right]
    if patch.size < 64:
        return False
    threshold, ink = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright_share = float((ink > 0).mean())
    # Text covers the smaller share of a text block: if that share is the bright one,
    # the letters are light.
    if lines >= DARK_MODE_LINES and bright_share < 0.4 and threshold > 40:
        return True
    if lines >= LIGHT_MODE_LINES and bright_share >= 0.5:
        return _lit_and_framed(grey, box, float(threshold))
    return False


def _lit_and_framed(grey: Any, box: tuple[int, int, int, int], threshold: float) -> bool:
    import cv2
    import numpy as np

    left, top, right, bottom = box
    height, width = grey.shape[:2]
    # The ground and its letters as one region: close the letters' holes.
    reach = max(3, (bottom - top) // 4)
    lit = cv2.morphologyEx(
        (grey > threshold).astype(np.uint8),
        cv2.MORPH_CLOSE,
        cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach)),
    )
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(lit, connectivity=4)
    centre = labels[(top + bottom) // 2, (left + right) // 2]
    if centre == 0:
        return False
    x, y, w, h, area = (int(v) for v in stats[centre])
    if x == 0 or y == 0 or x + w >= width or y + h >= height:
        return False  # it runs off the photo: no frame can be seen
    region = (labels == centre).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    (_cx, _cy), (rect_w, rect_h), _angle = cv2.minAreaRect(max(contours, key=cv2.contourArea))
    if rect_w * rect_h == 0 or area / (rect_w * rect_h) < MIN_RECTANGULARITY:
        return False
    ground = grey[(region > 0) & (grey > threshold)]
    if ground.size == 0 or float(ground.std()) > MAX_GROUND_SPREAD:
        return False
    level = float(np.median(ground))
    thickness = max(3, round(0.03 * min(w, h)))
    grown = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_RECT, (thickness, thickness)))
    ring = grey[(grown > 0) & (region == 0)]
    if ring.size == 0:
        return False
    return float((ring < DARK_FRAME_LEVEL * level).mean()) >= MIN_DARK_FRAME


__all__ = ["on_screen"]
