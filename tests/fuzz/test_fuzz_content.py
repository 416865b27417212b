"""Fuzzing what a sender or a script asks the picture check to blur.

``ContentFixes.from_dict`` reads headless ``send_image`` fields and the worker's
request: any JSON value must give valid fixes (every box inside the picture) or a
``ValueError``, never another exception. Valid fixes on odd pictures (tiny, thin,
transparent) must give a picture of the same size and mode. The digit reader takes
any boxes on any small picture and any text to count; the line confirmation, read
back or by strokes, takes any boxes on any small picture. The face network takes any
picture (thin, tiny, noise), whatever numbers it answers.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from p2pchat.media.content_confirm import confirmed_lines
from p2pchat.media.content_faces import faces
from p2pchat.media.content_fix import CONTENT_CATEGORIES, ContentFixes, content_pass
from p2pchat.media.content_ocr import MIN_DIGITS, count_digit_runs, read_digit_runs
from p2pchat.media.content_scan import Box, scan
from tests.fuzz.conftest import EXAMPLES

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "blur_faces": JSON,
        "blur_text": JSON,
        "boxes": st.lists(st.lists(st.floats(-2, 2) | st.integers(-2, 2), max_size=5), max_size=5)
        | JSON,
    },
)
FAST = settings(max_examples=300, deadline=None)


@FAST
@given(st.one_of(JSON, FIELDS))
def test_fixes_from_any_json_are_valid_or_a_value_error(value: object) -> None:
    EXAMPLES["content-fixes"] += 1
    try:
        fixes = ContentFixes.from_dict(value)
    except ValueError:
        return
    for box in fixes.boxes:
        assert box.x >= 0.0 and box.y >= 0.0 and box.w > 0 and box.h > 0
        assert box.x + box.w <= 1.0 + 1e-9 and box.y + box.h <= 1.0 + 1e-9


BOXES = st.builds(
    lambda x, y, w, h: Box.from_list([x, y, w, h]),
    st.floats(0, 0.99),
    st.floats(0, 0.99),
    st.floats(0.001, 1),
    st.floats(0.001, 1),
)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 64),
    st.integers(1, 64),
    st.sampled_from(["RGB", "RGBA"]),
    st.lists(BOXES, max_size=4),
    st.booleans(),
)
def test_blurring_odd_pictures_keeps_their_size(
    width: int, height: int, mode: str, boxes: list[Box], faces: bool
) -> None:
    EXAMPLES["content-blur"] += 1
    image = Image.new(mode, (width, height), (200, 120, 80, 255)[: len(mode)])
    fixed, findings = content_pass(image, ContentFixes(faces, faces, tuple(boxes)))
    assert fixed.size == image.size and fixed.mode == image.mode
    assert all(f.category in CONTENT_CATEGORIES for f in findings)


@pytest.mark.parametrize(
    "bad",
    [
        [0.5, 0.5, float("nan"), 0.1],
        [0.1, 0.1, float("inf"), 0.1],
        [0.1, 0.1, {}, 0.1],
        [0.1, "0.1", 0.2, 0.2],
        [True, 0.1, 0.2, 0.2],
    ],
)
def test_not_a_number_is_not_a_box(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        Box.from_list(bad)
    with pytest.raises(ValueError):
        ContentFixes.from_dict({"boxes": [bad]})


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 160),
    st.integers(1, 160),
    st.sampled_from(["RGB", "L", "RGBA"]),
    st.integers(0, 2**32 - 1),
    st.lists(BOXES, max_size=4),
    st.lists(BOXES, max_size=3),
)
def test_reading_digits_anywhere_on_odd_pictures(
    width: int, height: int, mode: str, seed: int, lines: list[Box], blocks: list[Box]
) -> None:
    """Any line and block boxes (a sliver, the whole picture, outside the ink) on any
    small picture: a valid answer, its boxes inside the picture, never an exception."""
    EXAMPLES["content-digits"] += 1
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, len(mode)), dtype=np.uint8)
    image = Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode)
    check = read_digit_runs(image, lines, blocks)
    assert check.status in {"ok", "partial", "absent"}
    for run in check.runs:
        assert run.digits >= MIN_DIGITS
        assert run.box.x >= 0.0 and run.box.y >= 0.0
        assert run.box.x + run.box.w <= 1.0 + 1e-6 and run.box.y + run.box.h <= 1.0 + 1e-6


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 160),
    st.integers(1, 160),
    st.integers(0, 2**32 - 1),
    st.lists(BOXES, max_size=4),
    st.lists(BOXES, max_size=3),
    st.booleans(),
)
def test_confirming_lines_anywhere_on_odd_pictures(
    width: int, height: int, seed: int, lines: list[Box], blocks: list[Box], read: bool
) -> None:
    """Any line boxes (a sliver, a corner, the whole picture): a subset of them, and
    every line inside a block kept, never an exception."""
    EXAMPLES["content-confirm"] += 1
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    grey = np.asarray(image.convert("L"))
    kept = confirmed_lines(image, grey, lines, blocks, read=read)
    assert all(line in lines for line in kept)
    for line in lines:
        centre = (line.x + line.w / 2, line.y + line.h / 2)
        if any(b.x <= centre[0] <= b.x + b.w and b.y <= centre[1] <= b.y + b.h for b in blocks):
            assert line in kept


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_counting_digits_of_any_text(text: str) -> None:
    EXAMPLES["content-digit-count"] += 1
    counts = count_digit_runs(text)
    normal = unicodedata.normalize("NFKC", text)
    assert all(count >= MIN_DIGITS for count in counts)
    assert sum(counts) <= sum(ch.isdigit() for ch in normal)


@settings(max_examples=60, deadline=None)
@example(width=300, height=10, seed=0)  # the network answered an infinite box here
@given(st.integers(1, 700), st.integers(1, 700), st.integers(0, 2**32 - 1))
def test_faces_on_odd_pictures(width: int, height: int, seed: int) -> None:
    """Noise on thin, tiny or large pictures: boxes inside the picture, never an exception
    (the network answers infinity or NaN for some; those are not boxes)."""
    EXAMPLES["content-faces"] += 1
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    found = faces(pixels, min_score=0.0) + scan(Image.fromarray(pixels), read=False).faces
    for box in found:
        assert box.x >= 0.0 and box.y >= 0.0 and box.w > 0 and box.h > 0
        assert box.x + box.w <= 1.0 + 1e-9 and box.y + box.h <= 1.0 + 1e-9
