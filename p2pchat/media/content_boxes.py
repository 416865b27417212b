"""What the picture check finds, as plain values: boxes, document hints, number runs.

Shared by the scan (``content_scan``), the digit reader (``content_ocr``), the
fixes (``content_fix``) and the send dialog; nothing here looks at pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Box:
    """A rectangle as fractions of the image's width and height (survives resizing)."""

    x: float
    y: float
    w: float
    h: float

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Left, top, right, bottom in pixels of a ``width`` x ``height`` image, clamped."""
        left = min(max(0, round(self.x * width)), width)
        top = min(max(0, round(self.y * height)), height)
        right = min(max(left, round((self.x + self.w) * width)), width)
        bottom = min(max(top, round((self.y + self.h) * height)), height)
        return left, top, right, bottom

    def to_list(self) -> list[float]:
        return [round(self.x, 5), round(self.y, 5), round(self.w, 5), round(self.h, 5)]

    @classmethod
    def from_list(cls, value: Any) -> Box:
        """A box from ``[x, y, w, h]`` fractions; ValueError if it is not one."""
        if not isinstance(value, (list, tuple)) or len(value) != 4:
            raise ValueError("a box is [x, y, w, h]")
        if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            raise ValueError("a box's x, y, w, h are numbers")
        x, y, w, h = (float(item) for item in value)
        if not all(0.0 <= item <= 1.0 for item in (x, y, w, h)) or w <= 0 or h <= 0:
            raise ValueError("a box's x, y, w, h are fractions of the image between 0 and 1")
        return cls(x, y, min(w, 1.0 - x), min(h, 1.0 - y))


@dataclass(frozen=True)
class DocumentHint:
    """A block of text lines that looks like a card, a receipt or a page."""

    kind: str  # "card" | "receipt" | "page" | "screen"
    box: Box
    lines: int


@dataclass(frozen=True)
class NumberRun:
    """Where a long number can be read, and how many digits: never the digits themselves."""

    box: Box
    digits: int
