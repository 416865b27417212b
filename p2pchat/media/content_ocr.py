"""Long digit runs (card, member and phone numbers) read on the device, in the image worker.

``read_digit_runs(image, lines, blocks)`` reads only where ``content_scan`` found text:
each block of lines is turned upright (its skew measured from the ink), cut into
rows, and each row, and each line outside a block, goes through one text-recognition
network (PP-OCRv6 small, an ONNX model shipped inside the ``rapidocr`` wheel, run with
``onnxruntime``; no detection network, nothing downloaded). Rows are read in batches
until a CPU-time budget is spent. The answer is where a run of ``MIN_DIGITS`` or
more digits is, and how many digits it has: never the digits themselves, which
stay in this function's locals and are not logged, reported or returned.

The recogniser is an optional extra (``pip install 'p2pchat[ocr]'``): without it the
answer says so (``status="absent"``) and the rest of the picture check goes on.
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from p2pchat.media.content_boxes import Box, NumberRun

# A card is 13-19 digits, a phone number 10-11, a member or account number 8 or more;
# dates ("12/29", "2029年12月") and prices ("1,080", "82.50") stay below or break the run.
MIN_DIGITS = 8
# Process CPU seconds (every thread) for reading, so the check stays near its
# 150 ms goal on two cores whatever the photo holds; a busy machine does not cut it short.
# A row is not begun if it would overrun the budget (its cost estimated from its width).
BUDGET_CPU_S = 0.075
# What a row costs to read, per column of its 48 px high image, before one is measured.
ROW_CPU_PER_COLUMN = 6e-5
# Eight digits and a separator are over four letter heights wide: a shorter row
# ("MEMBER", "mobile", a price) cannot hold a long number and is not read.
MIN_ROW_ASPECT = 3.5
MIN_MARKS = 5
MAX_ROWS = 48
ROW_LINE_PIXELS = 72  # a found line's height (tilt included) on the copy rows are cut from
MAX_RUNS = 16
REC_HEIGHT = 48  # the network's input height
MAX_REC_WIDTH = 1280
BATCH = 1
# Rows are narrowed before reading: the network's cost grows with the width, and
# digits stay readable at this squeeze (measured on the labelled set).
SQUEEZE = 0.6
# Tilts tried: every 2 degrees up to 10, then the neighbours of the best (13 turns, not 21).
SKEW_DEGREES = range(-10, 11, 2)
MODEL = ("rapidocr", "models/PP-OCRv6_rec_small.onnx")
_SEPARATED_DIGITS = re.compile(r"\d(?:[ \-()‐‑–—−]{0,2}\d)*")


@dataclass
class DigitCheck:
    """``status``: "ok", "partial" (budget spent before every row), "absent" (not installed)."""

    status: str
    runs: list[NumberRun] = field(default_factory=list)
    rows_read: int = 0


def model_path() -> Path | None:
    """The recognition model inside the installed ``rapidocr`` wheel, or None (not installed)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    spec = importlib.util.find_spec(MODEL[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / MODEL[1]
        if candidate.is_file():
            return candidate
    return None


def count_digit_runs(text: str) -> list[int]:
    """How many digits each long run in ``text`` has (full-width digits included)."""
    normal = unicodedata.normalize("NFKC", text)
    counts = [sum(ch.isdigit() for ch in m.group()) for m in _SEPARATED_DIGITS.finditer(normal)]
    return [count for count in counts if count >= MIN_DIGITS]


def read_digit_runs(
    image: Image.Image, lines: list[Box], blocks: list[Box], *, budget: float | None = None
) -> DigitCheck:
    """Read the rows of ``blocks`` and the ``lines`` outside them; long digit runs found.

    ``budget``: CPU seconds this call may spend (``BUDGET_CPU_S`` at most)."""
    limit = BUDGET_CPU_S if budget is None else min(BUDGET_CPU_S, budget)
    path = model_path()
    if path is None:
        return DigitCheck("absent")
    start = time.process_time()
    rows = _rows(image if image.mode == "RGB" else image.convert("RGB"), lines, blocks)
    rows = rows[:MAX_ROWS]
    if not rows:
        return DigitCheck("ok")
    loading = time.process_time()
    session, characters = _recogniser(path)
    start += time.process_time() - loading  # once per worker, not this photo's reading
    runs: list[NumberRun] = []
    done, columns, reading, rate = 0, 0, 0.0, ROW_CPU_PER_COLUMN
    for begin in range(0, len(rows), BATCH):
        batch = rows[begin : begin + BATCH]
        width = sum(crop.width for _box, crop in batch)
        before = time.process_time()
        if before - start + rate * width > limit:
            break
        for (crop_box, _crop), text in zip(
            batch, _recognise(session, characters, batch), strict=True
        ):
            runs.extend(NumberRun(crop_box, count) for count in count_digit_runs(text))
        done += len(batch)
        columns, reading = columns + width, reading + time.process_time() - before
        rate = reading / columns
    status = "ok" if done >= len(rows) else "partial"
    return DigitCheck(status, _distinct(runs)[:MAX_RUNS], done)


_SESSION: Any = None


def preload() -> bool:
    """Load the recogniser now (a warm worker, ``content_preload``); False without the extra."""
    path = model_path()
    if path is None:
        return False
    _recogniser(path)
    return True


def _recogniser(path: Path) -> tuple[Any, list[str]]:
    global _SESSION
    if _SESSION is None:
        import numpy as np
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One thread: the same rows cost about 15 % less CPU than with two (measured),
        # and the budget counts CPU; the other core stays free for the chat.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: spinning burns the CPU the budget counts.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        # The alphabet lives in the model's metadata: no separate file to fetch.
        alphabet = session.get_modelmeta().custom_metadata_map["character"].splitlines()
        # The first run sets up the network's buffers: done here, outside the budget.
        warm = np.zeros((1, 3, REC_HEIGHT, 64), dtype=np.float32)
        session.run(None, {session.get_inputs()[0].name: warm})
        _SESSION = (session, ["", *alphabet, " "])
    return _SESSION  # type: ignore[no-any-return]


def _recognise(
    session: Any, characters: list[str], batch: list[tuple[Box, Image.Image]]
) -> list[str]:
    """CTC greedy decoding of one batch of rows, padded to the widest."""
    import numpy as np

    width = max(crop.width for _box, crop in batch)
    tensor = np.zeros((len(batch), 3, REC_HEIGHT, width), dtype=np.float32)
    for index, (_box, crop) in enumerate(batch):
        pixels = np.asarray(crop, dtype=np.float32).transpose(2, 0, 1)
        tensor[index, :, :, : crop.width] = pixels / 127.5 - 1.0
    scores = session.run(None, {session.get_inputs()[0].name: tensor})[0]
    texts = []
    for row in scores.argmax(axis=2):
        previous, out = -1, []
        for index in row.tolist():
            if index != previous and 0 < index < len(characters):
                out.append(characters[index])
            previous = index
        texts.append("".join(out))
    return texts


def _rows(image: Image.Image, lines: list[Box], blocks: list[Box]) -> list[tuple[Box, Image.Image]]:
    """Upright row images ready for the network, with their place in ``image``."""
    rows: list[tuple[Box, Image.Image]] = []
    # Small blocks first: a card's few rows come before a long receipt's.
    for block in sorted(blocks, key=lambda box: box.w * box.h):
        inside = [line for line in lines if _within(line, block)]
        line_height = sorted(line.h for line in inside)[len(inside) // 2] if inside else block.h / 8
        rows.extend(_block_rows(image, block, line_height))
    alone = [line for line in lines if not any(_within(line, block) for block in blocks)]
    covered: list[Box] = []
    for line in sorted(alone, key=lambda box: -box.w):
        if any(_within(line, region) for region in covered):
            continue  # already read with a longer line's neighbourhood
        # A lone line is often one row the finder saw of several: its neighbours are read too.
        aside = 0.5 * line.w + 4 * line.h * image.height / max(1, image.width)
        covered.append(_grow(line, aside, 1.6 * line.h))
        rows.extend(_block_rows(image, line, line.h, reach=1.6, aside=aside))
    return rows


def _block_rows(
    image: Image.Image,
    block: Box,
    line_height: float,
    reach: float = 0.6,
    aside: float | None = None,
) -> list[tuple[Box, Image.Image]]:
    """Turn a block upright, cut it into rows of ink, each with its box in ``image``.

    The block is read with margins, ``reach`` line heights above and below and ``aside``
    (a third of its width unless given) left and right: a row often runs on past what
    the line finder saw."""
    import numpy as np

    grown = _grow(block, 0.3 * block.w if aside is None else aside, reach * line_height)
    left, top, right, bottom = grown.pixels(image.width, image.height)
    if right - left < 16 or bottom - top < 8:
        return []
    # Read on a copy where a line is at most ROW_LINE_PIXELS tall: the network sees 48 px.
    scale = min(1.0, ROW_LINE_PIXELS / max(1.0, line_height * image.height))
    crop = image.crop((left, top, right, bottom)).convert("L")
    if scale < 1.0:
        size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
        crop = crop.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    # Ink and paper are told apart inside the block, not in the margins around it.
    b_left, b_top, b_right, b_bottom = block.pixels(image.width, image.height)
    inside = (b_left - left, b_top - top, b_right - left, b_bottom - top)
    x0, y0, x1, y1 = (round(value * scale) for value in inside)
    inner = np.asarray(crop.crop((x0, y0, x1, y1)))
    threshold, dark_ink = _split(inner)
    angle = _skew(inner, threshold, dark_ink)
    paper_side = inner[inner > threshold] if dark_ink else inner[inner <= threshold]
    paper = int(np.median(paper_side)) if paper_side.size else 255 * dark_ink
    upright = crop.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=paper)
    grey = np.asarray(upright)
    # A found line's box is as tall as its letters and its tilt: nothing in a row is taller.
    tallest = max(8.0, 1.5 * line_height * image.height * scale)
    ink = _letters(grey <= threshold if dark_ink else grey > threshold, tallest)
    profile = ink.mean(axis=1)
    threshold = max(0.01, 0.2 * float(np.percentile(profile, 90)))
    bands = _bands(profile > threshold, max(2, round(0.12 * line_height * image.height * scale)))
    rows: list[tuple[int, Box, Image.Image]] = []
    for band_top, band_bottom in bands:
        height = band_bottom - band_top
        if height < 6:
            continue
        band = ink[band_top:band_bottom]
        margin = max(2, round(0.25 * height))
        y0, y1 = max(0, band_top - margin), min(upright.height, band_bottom + margin)
        for x0, x1 in _segments(band.any(axis=0), 2 * height):
            marks = _marks(band[:, x0:x1])
            if x1 - x0 < MIN_ROW_ASPECT * height or marks < MIN_MARKS:
                continue  # too short or too few marks to hold a long number (an edge, a rule)
            x0, x1 = max(0, x0 - margin), min(upright.width, x1 + margin)
            place = _unrotate((x0, y0, x1, y1), upright.size, crop.size, angle)
            box = Box(
                (left + place[0] / scale) / image.width,
                (top + place[1] / scale) / image.height,
                (place[2] - place[0]) / scale / image.width,
                (place[3] - place[1]) / scale / image.height,
            )
            rows.append((marks, box, _fit(upright.crop((x0, y0, x1, y1)))))
    # A long number is many separate marks: the rows with the most are read first, so a
    # spent budget leaves out a name or a date rather than a number.
    return [(box, row) for _marks_, box, row in sorted(rows, key=lambda row: -row[0])]


def _marks(ink: Any) -> int:
    """Separate marks in a row: eight digits make at least MIN_MARKS, even touching in pairs."""
    import cv2
    import numpy as np

    count, _labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
    return int(count) - 1


def _segments(columns: Any, gap: int) -> list[tuple[int, int]]:
    """Runs of inked columns, joined across gaps narrower than ``gap`` (between words)."""
    return _bands(columns, gap)


def _skew(inner: Any, threshold: float, dark_ink: bool) -> float:
    """The rotation that makes the rows of ink most horizontal (sharpest row profile)."""
    import numpy as np

    small = Image.fromarray(inner)
    small.thumbnail((320, 320))
    grey = np.asarray(small)
    ink = Image.fromarray(
        ((grey <= threshold) if dark_ink else (grey > threshold)).astype(np.uint8)
    )
    scores: dict[int, float] = {}

    def sharpness(degrees: int) -> tuple[float, int]:
        if degrees not in scores:
            turned = ink.rotate(degrees, resample=Image.Resampling.NEAREST, expand=True)
            profile = np.asarray(turned).sum(axis=1, dtype=np.float64)
            scores[degrees] = float(np.square(np.diff(profile)).sum())
        return scores[degrees], -abs(degrees)  # a tie goes to the smaller turn

    coarse = max(SKEW_DEGREES, key=sharpness)
    near = [d for d in (coarse - 1, coarse, coarse + 1) if abs(d) <= max(SKEW_DEGREES)]
    return float(max(near, key=sharpness))


def _letters(ink: Any, tallest: float) -> Any:
    """``ink`` without the marks taller than ``tallest`` (a photo, a card's edge, a stripe),
    which would join the rows they cross."""
    import cv2
    import numpy as np

    count, labels, stats, _centroids = cv2.connectedComponentsWithStats(
        ink.astype(np.uint8), connectivity=8
    )
    too_tall = np.flatnonzero(stats[1:, cv2.CC_STAT_HEIGHT] > tallest) + 1
    if count <= 1 or too_tall.size == 0:
        return ink
    return ink & ~np.isin(labels, too_tall)


def _split(grey: Any) -> tuple[float, bool]:
    """Otsu's threshold, and whether the ink is the dark side (it covers less of a text block)."""
    import cv2

    if grey.size == 0:
        return 127.0, True
    threshold, bright = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return float(threshold), float(bright.mean()) >= 0.5


def _bands(mask: Any, gap: int) -> list[tuple[int, int]]:
    """Runs of True rows, joined across gaps shorter than ``gap`` (split glyphs, accents)."""
    bands: list[list[int]] = []
    for index, on in enumerate(mask.tolist()):
        if not on:
            continue
        if bands and index - bands[-1][1] <= gap:
            bands[-1][1] = index + 1
        else:
            bands.append([index, index + 1])
    return [(a, b) for a, b in bands]


def _unrotate(
    rect: tuple[int, int, int, int], turned: tuple[int, int], size: tuple[int, int], angle: float
) -> tuple[float, float, float, float]:
    """``rect`` of the upright copy, back in the unturned crop (an axis-aligned bound)."""
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    cx, cy = turned[0] / 2, turned[1] / 2
    ox, oy = size[0] / 2, size[1] / 2
    xs, ys = [], []
    for x, y in ((rect[0], rect[1]), (rect[2], rect[1]), (rect[0], rect[3]), (rect[2], rect[3])):
        dx, dy = x - cx, y - cy
        # PIL turns counter-clockwise on screen (y down); this is the inverse turn.
        xs.append(ox + dx * cos - dy * sin)
        ys.append(oy + dx * sin + dy * cos)
    return (
        max(0.0, min(xs)),
        max(0.0, min(ys)),
        min(float(size[0]), max(xs)),
        min(float(size[1]), max(ys)),
    )


def _fit(crop: Image.Image) -> Image.Image:
    scale = REC_HEIGHT / max(1, crop.height)
    width = max(8, min(MAX_REC_WIDTH, round(crop.width * scale * SQUEEZE)))
    return crop.resize((width, REC_HEIGHT), Image.Resampling.BILINEAR).convert("RGB")


def _grow(box: Box, dx: float, dy: float) -> Box:
    left, top = max(0.0, box.x - dx), max(0.0, box.y - dy)
    right, bottom = min(1.0, box.x + box.w + dx), min(1.0, box.y + box.h + dy)
    return Box(left, top, right - left, bottom - top)


def _within(line: Box, block: Box) -> bool:
    cx, cy = line.x + line.w / 2, line.y + line.h / 2
    return block.x <= cx <= block.x + block.w and block.y <= cy <= block.y + block.h


def _distinct(runs: list[NumberRun]) -> list[NumberRun]:
    """One run per place: a row read both in its block and as a line counts once."""
    kept: list[NumberRun] = []
    for run in runs:
        if not any(_within(run.box, other.box) and run.digits == other.digits for other in kept):
            kept.append(run)
    return kept


__all__ = ["MIN_DIGITS", "DigitCheck", "count_digit_runs", "model_path", "read_digit_runs"]
