"""The face detector p2pchat ships (YuNet): its packaged model, small faces, strong blurs."""

from __future__ import annotations

import hashlib
import re
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from p2pchat.media import content_faces
from p2pchat.media.content_fix import ContentFixes, content_pass
from p2pchat.media.content_scan import scan

DATA = Path(__file__).resolve().parents[1] / "data"
LABELS = tomllib.loads((DATA / "content" / "labels.toml").read_text("utf-8"))["files"]
WITH_FACES = sorted(name for name, label in LABELS.items() if label.get("faces"))
MODELS = resources.files("p2pchat.media").joinpath("models")
# The highest score the network gave anything on the labelled plain scenes was 0.37:
# a blurred face must score below that, well under the 0.7 that calls it a face.
BACKGROUND_SCORE = 0.4


def picture(name: str) -> Image.Image:
    image = Image.open(DATA / name).convert("RGB")
    image.thumbnail((2048, 2048))
    return image


def at_face_size(image: Image.Image) -> np.ndarray:
    copy = image.copy()
    copy.thumbnail((content_faces.FACE_LONG_EDGE, content_faces.FACE_LONG_EDGE))
    return np.asarray(copy)


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


@pytest.mark.parametrize("angle", [-25, 25])
@pytest.mark.parametrize("name", WITH_FACES)
def test_a_tilted_face_is_found(name: str, angle: int) -> None:
    # A head tilted 25 degrees: the Haar cascade found 2 of these 10, the network all.
    image = picture(name).rotate(angle, expand=True, fillcolor=(128, 128, 128))
    assert scan(image, read=False).faces, name


def _sharpened(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=4, percent=300, threshold=0)).filter(
        ImageFilter.SHARPEN
    )


@pytest.mark.parametrize("name", WITH_FACES)
def test_a_blurred_face_is_far_from_being_found_even_sharpened(name: str) -> None:
    image = picture(name)
    faces = scan(image, read=False).faces
    fixed, _findings = content_pass(image, ContentFixes(blur_faces=True), scan_content=False)
    for version in (fixed, _sharpened(fixed), _sharpened(_sharpened(fixed))):
        near = content_faces.faces(at_face_size(version), min_score=BACKGROUND_SCORE)
        # Nothing whose centre lies on a face that was blurred, even at a low score.
        for found in near:
            cx, cy = found.x + found.w / 2, found.y + found.h / 2
            assert not any(
                face.x <= cx <= face.x + face.w and face.y <= cy <= face.y + face.h
                for face in faces
            ), (name, found)
