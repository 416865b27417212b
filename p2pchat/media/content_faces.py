"""Faces in a picture, for the content X-ray: OpenCV's YuNet with the model p2pchat ships.

``faces(rgb) -> list[Box]`` runs ``cv2.FaceDetectorYN`` (in the
``opencv-python-headless`` wheel) with ``face_detection_yunet_2023mar.onnx``, a
230 KB network from the OpenCV Zoo (MIT licence) that ships inside p2pchat's own
package (``media/models``; origin, licence and checksum in its ``SOURCES.md``), so
nothing is downloaded at run time. Its file is checked against the checksum before it
is loaded. On the labelled set it finds every frontal face the Haar cascade found, and
faces half the size, in a fifth of the CPU time: the cascade tried every window at
every scale, so textured scenes (grass, brick) cost it up to 240 ms.

It runs in the image worker only (the caller imports it there); the chat process never
loads OpenCV.
"""

from __future__ import annotations

import hashlib
import math
import threading
from importlib import resources
from typing import Any

from p2pchat.media.content_boxes import Box

MODEL_NAME = "face_detection_yunet_2023mar.onnx"
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
# Faces are looked for on a copy this size: the network's cost grows with the pixels,
# and it finds faces down to about 20 px across (3 % of the long side; the Haar cascade
# it replaced needed about 40), and some turned half away.
FACE_LONG_EDGE = 640
# The network's confidence for a face. On the labelled set real faces score 0.82-0.94
# (a profile 0.83, faces shrunk to 14 px 0.6-0.9); the highest anything else scored was
# a dress (0.75, turned away by the skin test below) and, on plain scenes, 0.37.
MIN_SCORE = 0.7
NMS_THRESHOLD = 0.3
MAX_CANDIDATES = 500
# The share of a face box's centre that must look like skin (in colour photos): the
# network's boxes fit the face closely, so real faces fill 0.97 or more of it on the
# labelled set; the dress it once took for a face, 0.29.
MIN_SKIN_SHARE = 0.5


def faces(rgb: Any, *, min_score: float = MIN_SCORE) -> list[Box]:
    """Faces in an RGB array (its long side at most ``FACE_LONG_EDGE``), largest first.

    ``min_score`` lower than the default is for tests that ask how close a blurred face
    comes to being found."""
    import cv2

    height, width = rgb.shape[:2]
    if min(height, width) < 8:
        return []
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    # One detector per process, set to each picture's size: one picture at a time.
    with _LOCK:
        detector = _detector()
        detector.setInputSize((width, height))
        detector.setScoreThreshold(min_score)
        _, found = detector.detect(bgr)
    if found is None:
        return []
    skin = _skin_mask(rgb)
    boxes = []
    for row in found:
        # Each row is x, y, w, h, 5 landmarks, score. On odd pictures (thin, noise) the
        # network can answer infinity or NaN, and its boxes may reach past the edge.
        x, y, w, h = (float(value) for value in row[:4])
        if not all(math.isfinite(value) for value in (x, y, w, h)):
            continue
        left, top = max(0, int(x)), max(0, int(y))
        right, bottom = min(width, int(x + w)), min(height, int(y + h))
        across, down = right - left, bottom - top
        if across < 2 or down < 2:
            continue
        if skin is not None and _skin_share(skin, left, top, across, down) < MIN_SKIN_SHARE:
            continue
        boxes.append(Box(left / width, top / height, across / width, down / height))
    return sorted(boxes, key=lambda box: -box.w * box.h)


def model_bytes() -> bytes:
    """The packaged model, checked against its checksum (RuntimeError when it is not)."""
    try:
        data = resources.files("p2pchat.media").joinpath("models", MODEL_NAME).read_bytes()
    except OSError as error:
        raise RuntimeError(f"the face model that ships with p2pchat is missing ({error})") from None
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise RuntimeError("the face model that ships with p2pchat is not the expected file")
    return data


_DETECTOR: Any = None
_LOCK = threading.Lock()


def preload() -> None:
    """Build the detector now (a warm worker, ``content_preload``), not on the first photo."""
    with _LOCK:
        _detector()


def _detector() -> Any:
    global _DETECTOR
    if _DETECTOR is None:
        import cv2
        import numpy as np

        model = np.frombuffer(model_bytes(), dtype=np.uint8)
        _DETECTOR = cv2.FaceDetectorYN.create(
            "onnx",
            model,
            np.empty(0, dtype=np.uint8),
            (FACE_LONG_EDGE, FACE_LONG_EDGE),
            MIN_SCORE,
            NMS_THRESHOLD,
            MAX_CANDIDATES,
        )
    return _DETECTOR


def _skin_mask(rgb: Any) -> Any:
    """Skin-coloured pixels (a wide YCrCb range, all complexions), or None for grey photos."""
    import cv2
    import numpy as np

    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    if float(np.abs(ycrcb[:, :, 1].astype(np.int16) - 128).mean()) < 2.0:
        return None  # no colour to judge by
    return cv2.inRange(ycrcb, (0, 133, 77), (255, 180, 135))


def _skin_share(skin: Any, x: int, y: int, w: int, h: int) -> float:
    import numpy as np

    centre = skin[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4]
    return float(np.count_nonzero(centre)) / max(1, int(centre.size))


__all__ = ["FACE_LONG_EDGE", "MODEL_NAME", "MODEL_SHA256", "faces", "model_bytes"]
