"""Fuzzing what a sender or a script asks the picture check to blur.

``ContentFixes.from_dict`` reads headless ``send_image`` fields and the worker's
request: any JSON value must give valid fixes (every box inside the picture) or a
``ValueError``, never another exception. Valid fixes on odd pictures (tiny, thin,
transparent) must give a picture of the same size and mode.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from p2pchat.media.content_fix import ContentFixes, content_pass
from p2pchat.media.content_scan import Box
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
    assert all(
        f.category in {"blurred", "face_visible", "text_visible", "document_visible"}
        for f in findings
    )


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
