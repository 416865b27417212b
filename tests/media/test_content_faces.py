"""The face detector p2pchat ships (YuNet): its packaged model, small faces, strong blurs."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from p2pchat.media import content_faces

DATA = Path(__file__).resolve().parents[1] / "data"
MODELS = resources.files("p2pchat.media").joinpath("models")


def test_the_packaged_model_is_the_file_its_sources_name() -> None:
    data = MODELS.joinpath(content_faces.MODEL_NAME).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == content_faces.MODEL_SHA256
    sources = MODELS.joinpath("SOURCES.md").read_text("utf-8")
    assert re.search(rf"\| {re.escape(content_faces.MODEL_NAME)} \|.*`{digest}`", sources)
    assert "Shiqi Yu" in MODELS.joinpath("LICENSE-yunet.txt").read_text("utf-8")


def test_a_model_file_that_is_not_the_expected_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(content_faces, "MODEL_SHA256", "0" * 64)
    with pytest.raises(RuntimeError, match="not the expected file"):
        content_faces.model_bytes()


@pytest.mark.parametrize("width", [20, 24])
@pytest.mark.parametrize("background", ["content/skimage-coffee.jpg", "content/skimage-brick.jpg"])
def test_a_small_face_is_found(width: int, background: str) -> None:
    # The astronaut's face, shrunk to 20-24 px across on a 640 px scene (3-4 % of its
    # long side): the Haar cascade found none of these (it needed about 40 px).
    face = Image.open(DATA / "content/skimage-astronaut.jpg").convert("RGB")
    face = face.crop((150, 40, 300, 210))
    scale = width / 90  # the face itself is about 90 px wide in that crop
    face = face.resize((round(face.width * scale), round(face.height * scale)))
    scene = Image.open(DATA / background).convert("RGB")
    scene.thumbnail((content_faces.FACE_LONG_EDGE, content_faces.FACE_LONG_EDGE))
    scene.paste(face, (scene.width // 3, scene.height // 3))
    [box] = content_faces.faces(np.asarray(scene))
    left, top, _right, _bottom = box.pixels(scene.width, scene.height)
    assert abs(left - scene.width // 3) < 30 and abs(top - scene.height // 3) < 30
