"""Whether a lone candidate line really is text: read back by the recogniser (the ocr extra).

The classical finder in ``content_scan`` takes some grass, foliage, water and rock
for a row of letters. A stack of three or more lines (a card, a receipt, a page) has
not been one of those on the labelled set, so only the lines outside every such block
are checked here: each is cut out (with a quarter of its height around it), read by
the same recognition network as the digit reader (``content_ocr``, any script it knows,
Japanese included), and kept only if it reads as ``MIN_CHARACTERS`` characters or more
with a mean confidence of ``MIN_CONFIDENCE``. On the labelled set printed words read
at 0.93 or more and the false lines at 0.45 or less (docs/content-xray.md).

Nothing read is kept, logged or returned: only which lines stay. Lines left when the
CPU budget is spent are judged by their strokes, as without the extra.

Without the extra (or if it fails), a lone line is judged by its strokes instead
(``plausible_lines``): letters are drawn with strokes of one width, thin beside
their height, and fill a fair share of their line; grass, ripples and stars do not.
That rule is narrower: it also drops small print (a line under about 12 px on the
scan copy has strokes too thick for its height) when no block of lines holds it.
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image

from p2pchat.media import content_ocr
from p2pchat.media.content_boxes import Box
from p2pchat.media.content_ocr import MAX_REC_WIDTH, REC_HEIGHT

MIN_CHARACTERS = 2
MIN_CONFIDENCE = 0.8
# Process CPU seconds for reading lone lines (about 10-15 ms a line), after the model load.
BUDGET_CPU_S = 0.05
MAX_LINES = 16
# The geometric rule (no recogniser): stroke width against line height, the spread
# of stroke widths, and the share of the line's box that is ink (measured on the
# labelled set: printed lines 0.07-0.15 / 0.10-0.35 / 0.17-0.38; false lines
# 0.17-0.47 or a spread over 0.9, or under 0.12 of ink: stars).
MAX_STROKE_SHARE = 0.2
MAX_STROKE_SPREAD = 0.6
MIN_INK_SHARE = 0.12


def confirmed_lines(
    image: Image.Image, grey: Any, lines: list[Box], blocks: list[Box], *, read: bool = True
) -> list[Box]:
    """The lines that stay: read back where the recogniser is installed (and ``read``),
    else judged by their strokes; lines inside ``blocks`` always stay."""
    if read:
        try:
            kept = confirm_lines(image, grey, lines, blocks)
        except MemoryError:
            raise
        except Exception:  # a broken extra: the geometry still judges the lines
            kept = None
        if kept is not None:
            return kept
    return plausible_lines(grey, lines, blocks)


def plausible_lines(grey: Any, lines: list[Box], blocks: list[Box]) -> list[Box]:
    """``lines`` less the lone ones whose marks are not drawn like letters (see above)."""
    height, width = grey.shape[:2]
    return [
        line
        for line in lines
        if any(_within(line, block) for block in blocks)
        or _stroked_like_letters(grey[_rows(line, width, height)])
    ]


def _rows(line: Box, width: int, height: int) -> tuple[slice, slice]:
    left, top, right, bottom = line.pixels(width, height)
    return slice(top, bottom), slice(left, right)


def _stroked_like_letters(patch: Any) -> bool:
    import cv2
    import numpy as np

    if patch.size == 0 or min(patch.shape[:2]) < 3:
        return False
    _threshold, bright = cv2.threshold(patch, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    ink = (bright if bright.mean() < 0.5 else 1 - bright).astype(np.uint8)
    if float(ink.mean()) < MIN_INK_SHARE:
        return False
    distance = cv2.distanceTransform(ink, cv2.DIST_L2, 3)
    # A stroke's width is twice the distance to its edge, read along its middle (the ridge).
    ridge = distance[(distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3))))]
    if ridge.size == 0:
        return False
    mean = float(ridge.mean())
    return (
        2 * mean / patch.shape[0] <= MAX_STROKE_SHARE
        and float(ridge.std()) / mean <= MAX_STROKE_SPREAD
    )


def confirm_lines(
    image: Image.Image, grey: Any, lines: list[Box], blocks: list[Box]
) -> list[Box] | None:
    """``lines`` less the lone ones (outside every block) that do not read as text.

    None when the recogniser is not installed (nothing was checked). ``grey`` is the
    scan copy, for the lines the budget leaves unread."""
    path = content_ocr.model_path()
    if path is None:
        return None
    alone = [index for index, line in enumerate(lines) if not any(_within(line, b) for b in blocks)]
    if not alone:
        return list(lines)
    session, characters = content_ocr._recogniser(
        path
    )  # loaded once per worker, only for a photo with text
    start = time.process_time()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    height, width = grey.shape[:2]
    dropped: set[int] = set()
    for count, index in enumerate(alone):
        if count >= MAX_LINES or time.process_time() - start > BUDGET_CPU_S:
            text = _stroked_like_letters(grey[_rows(lines[index], width, height)])
        else:
            text = reads_as_text(*_read(session, characters, _crop(rgb, lines[index])))
        if not text:
            dropped.add(index)
    return [line for index, line in enumerate(lines) if index not in dropped]


def reads_as_text(text: str, confidence: float) -> bool:
    """Enough characters, read with enough confidence, to be called text."""
    return len(text.replace(" ", "")) >= MIN_CHARACTERS and confidence >= MIN_CONFIDENCE


def _crop(image: Image.Image, line: Box) -> Image.Image:
    """The line with a quarter of its height around it, scaled to the network's height."""
    margin = 0.25 * line.h
    left, top, right, bottom = Box(
        max(0.0, line.x - margin * image.height / max(1, image.width)),
        max(0.0, line.y - margin),
        line.w + 2 * margin * image.height / max(1, image.width),
        line.h + 2 * margin,
    ).pixels(image.width, image.height)
    crop = image.crop((left, top, max(left + 1, right), max(top + 1, bottom)))
    scale = REC_HEIGHT / crop.height
    width = max(8, min(MAX_REC_WIDTH, round(crop.width * scale)))
    return crop.resize((width, REC_HEIGHT), Image.Resampling.BILINEAR)


def _read(session: Any, characters: list[str], crop: Image.Image) -> tuple[str, float]:
    """CTC greedy decoding of one line: the text and the mean confidence of its characters."""
    import numpy as np

    pixels = np.asarray(crop, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    scores = session.run(None, {session.get_inputs()[0].name: pixels[np.newaxis]})[0][0]
    previous, out, confidences = -1, [], []
    for index, confidence in zip(
        scores.argmax(axis=1).tolist(), scores.max(axis=1).tolist(), strict=True
    ):
        if index != previous and 0 < index < len(characters):
            out.append(characters[index])
            confidences.append(float(confidence))
        previous = index
    return "".join(out), (sum(confidences) / len(confidences) if confidences else 0.0)


def _within(line: Box, block: Box) -> bool:
    cx, cy = line.x + line.w / 2, line.y + line.h / 2
    return block.x <= cx <= block.x + block.w and block.y <= cy <= block.y + block.h


__all__ = [
    "MIN_CHARACTERS",
    "MIN_CONFIDENCE",
    "confirm_lines",
    "confirmed_lines",
    "plausible_lines",
    "reads_as_text",
]
