"""The picture check's stack loaded ahead of its photo: NumPy, OpenCV, the face model and
the digit reader (when the ``ocr`` extra is installed).

A fresh sending worker pays all of it on its photo (about 250 ms of CPU before the
first face is looked for). A *spare* sending worker (``worker.ImageWorker.prewarm``
with ``check``) calls ``load`` before any photo arrives and tells its parent what it
holds. Loading it in a thread while Pillow decodes a photo that came with its worker
(``p2pchat send``) was measured too, and gained nothing measurable on this machine: the
imports hold the GIL, and a photo shrunk to 2048 px decodes in tens of milliseconds.
"""

from __future__ import annotations

import sys

# What the check imports: a warm worker reports which of them it holds.
STACK = ("numpy", "cv2", "onnxruntime")


def load() -> dict[str, object]:
    """Import the stack and build both models now; what was loaded (the worker's status)."""
    import cv2
    import numpy

    from p2pchat.media import content_faces, content_ocr

    assert cv2 and numpy
    content_faces.preload()
    ocr = content_ocr.preload()
    return {"modules": [name for name in STACK if name in sys.modules], "faces": True, "ocr": ocr}
