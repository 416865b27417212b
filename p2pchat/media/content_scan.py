"""What a picture shows: faces, text and document-like text, found on the device.

``scan(image) -> ContentFindings`` is a pure function of the pixels. It runs in
the sender's sanitiser (so in the isolated image worker once the send path goes
through it), never on the receiving side, and what it finds is only told to the
sender: it warns, it never blocks, and nothing of it is sent to the peer.

The detectors run on OpenCV (the ``opencv-python-headless`` wheel): faces are
``content_faces``' (the YuNet network, whose model ships inside p2pchat: nothing is
downloaded at run time), text lines a classical finder's (morphological gradient,
then rows of letter-sized marks). Neither reads the text; a block of text lines on a
card- or receipt-shaped patch is called document-like. A lone line (outside such a
block) is read back by ``content_confirm`` before it is called text; long numbers are
read, where lines were found, by ``content_ocr`` (both an optional extra); screens are
told from paper by ``content_screen``. What they miss is said in
``docs/content-xray.md``: faces turned far to the side, small or hidden faces,
handwriting, tattoos, and what a background reveals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from p2pchat.media import content_faces
from p2pchat.media.content_boxes import Box as Box
from p2pchat.media.content_boxes import DocumentHint as DocumentHint
from p2pchat.media.content_boxes import NumberRun as NumberRun
from p2pchat.media.content_confirm import confirmed_lines
from p2pchat.media.content_screen import on_screen
from p2pchat.media.report import Finding

# Detection runs on a copy this size: faces and text lines stay large enough to
# find, and the cost stays flat whatever the photo's resolution.
SCAN_LONG_EDGE = 1024
MAX_FINDINGS = 64


@dataclass
class ContentFindings:
    """What the picture shows, as boxes; ``findings()`` words it for the report."""

    faces: list[Box] = field(default_factory=list)
    text: list[Box] = field(default_factory=list)
    documents: list[DocumentHint] = field(default_factory=list)
    numbers: list[NumberRun] = field(default_factory=list)
    # The digit reader (content_ocr): "ok", "partial" (time budget), "absent", "off".
    digit_check: str = "off"

    def findings(self) -> list[Finding]:
        """Report findings in plain words (the reader's language via ``detail.i18n``)."""
        out: list[Finding] = []
        if self.faces:
            count = len(self.faces)
            out.append(
                Finding(
                    "face_visible",
                    "high",
                    f"{count} face{'s are' if count > 1 else ' is'} visible in the picture.",
                    {
                        "i18n": "report.content.faces",
                        "i18n_args": {"count": count},
                        "boxes": [box.to_list() for box in self.faces],
                    },
                )
            )
        if self.documents:
            kinds = sorted({doc.kind for doc in self.documents})
            out.append(
                Finding(
                    "document_visible",
                    "high",
                    f"Text that looks like a card or document is visible ({', '.join(kinds)}).",
                    {
                        # Named after the largest block of text lines.
                        "i18n": f"report.content.document_{_largest(self.documents)}",
                        "i18n_args": {"lines": sum(doc.lines for doc in self.documents)},
                        "kinds": kinds,
                        "boxes": [doc.box.to_list() for doc in self.documents],
                    },
                )
            )
        out.extend(_number_findings(self.numbers, self.digit_check if self.text else "off"))
        if self.text:
            count = len(self.text)
            out.append(
                Finding(
                    "text_visible",
                    "medium",
                    f"Text is visible in the picture ({count} line{'s' if count > 1 else ''}).",
                    {
                        "i18n": "report.content.text",
                        "i18n_args": {"count": count},
                        "boxes": [box.to_list() for box in self.text],
                    },
                )
            )
        return out


def _number_findings(numbers: list[NumberRun], check: str) -> list[Finding]:
    out: list[Finding] = []
    if numbers:
        counts = sorted((run.digits for run in numbers), reverse=True)
        digits = ", ".join(str(count) for count in counts)
        out.append(
            Finding(
                "number_visible",
                "high",
                f"Text that looks like a card or document: {digits} digits can be read "
                "(a card, member or phone number?).",
                {
                    "i18n": "report.content.numbers",
                    "i18n_args": {"digits": digits},
                    "digits": counts,
                    "boxes": [run.box.to_list() for run in numbers],
                },
            )
        )
    if check in ("absent", "partial", "failed"):
        said = {"absent": "is not installed", "partial": "ran out of time"}.get(check, "failed")
        message = f"Long numbers were not (all) looked for: the digit check {said}."
        out.append(
            Finding("digit_check", "low", message, {"i18n": f"report.content.digits_{check}"})
        )
    return out


def _largest(documents: list[DocumentHint]) -> str:
    return max(documents, key=lambda doc: doc.lines).kind


def scan(image: Image.Image, *, read: bool = True) -> ContentFindings:
    """Find faces, text lines, document-like blocks and long numbers in ``image``.

    ``read=False`` leaves the recogniser (the ocr extra) out: no long numbers, and lone
    lines judged by their strokes only."""
    import numpy as np

    rgb = _shrink(image if image.mode == "RGB" else image.convert("RGB"), SCAN_LONG_EDGE)
    faces = content_faces.faces(np.asarray(_shrink(rgb, content_faces.FACE_LONG_EDGE)))
    grey = np.asarray(rgb.convert("L"))
    lines = _text_lines(grey)
    # A face's eyes and mouth can pass for a short line of marks: not text.
    lines = [line for line in lines if not any(_overlap(line, face) > 0.3 for face in faces)]
    documents = [_screen_or_paper(doc, grey) for doc in _documents(lines)]
    if lines:
        # Grass, water and stars pass the finder as lone lines: each is read back (or,
        # without the reader, its strokes judged) before it is called text.
        lines = confirmed_lines(image, grey, lines, [doc.box for doc in documents], read=read)
    found = ContentFindings(
        faces=faces[:MAX_FINDINGS], text=lines[:MAX_FINDINGS], documents=documents
    )
    if read and lines:
        from p2pchat.media.content_ocr import read_digit_runs

        try:
            check = read_digit_runs(image, found.text, [doc.box for doc in documents])
            found.numbers, found.digit_check = check.runs, check.status
        except MemoryError:
            raise
        except Exception as error:  # faces and documents still stand; numbers were not read
            found.digit_check = "absent" if isinstance(error, ImportError) else "failed"
    return found


def _shrink(image: Image.Image, long_edge: int) -> Image.Image:
    scale = long_edge / max(image.size)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap 1: an average over whole blocks of pixels first (a 2048 px photo is
    # halved that way), then a bilinear step for the rest; a fifth of the CPU of a
    # bilinear filter over every source pixel, and the same findings on the labelled set.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)


def _text_lines(pixels: Any) -> list[Box]:
    """Horizontal rows of three or more letter-sized marks of similar height."""
    import cv2
    import numpy as np

    height, width = pixels.shape[:2]
    gradient = cv2.morphologyEx(
        pixels, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    )
    _, marks = cv2.threshold(gradient, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    reach = max(3, round(width / 60))
    joined = cv2.morphologyEx(
        marks, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (reach, 1))
    )
    # Components, not outer contours: text inside a card's or a receipt's outline counts.
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(joined, connectivity=8)
    lines: list[Box] = []
    max_line_height = max(12, height // 5)
    for index in range(1, count):
        x, y, w, h = (int(value) for value in stats[index, :4])
        if not (6 <= h <= max_line_height and w >= 3 * h and w >= 24):
            continue
        patch = marks[y : y + h, x : x + w]
        filled = float(np.count_nonzero(patch)) / (w * h)
        if not 0.15 <= filled <= 0.85:  # a turned line fills less of its bounding box
            continue
        # Three marks of letter height in a row; a long row may have its letters run together.
        if _letters_in_row(patch) < 3:
            continue
        lines.append(Box(x / width, y / height, w / width, h / height))
    return sorted(lines, key=lambda box: (box.y, box.x))


def _letters_in_row(patch: Any) -> int:
    """How many marks of one height sit side by side, their middles on one line.

    Letters share a height and a baseline; leaves, gravel and bark make marks of
    every size at every height, so the largest such family is what counts.
    """
    import cv2
    import numpy as np

    count, _labels, stats, centroids = cv2.connectedComponentsWithStats(patch, connectivity=8)
    line_height = patch.shape[0]
    heights, middles = [], []
    for index in range(1, count):
        h = stats[index, cv2.CC_STAT_HEIGHT]
        w = stats[index, cv2.CC_STAT_WIDTH]
        if 0.25 * line_height <= h <= line_height and w <= 2.5 * line_height:
            heights.append(float(h))
            middles.append(float(centroids[index][1]))
    if len(heights) < 2:
        return len(heights)
    typical = float(np.median(heights))
    middle = float(np.median(middles))
    return sum(
        1
        for h, m in zip(heights, middles, strict=True)
        if abs(h - typical) <= 0.35 * typical and abs(m - middle) <= 0.3 * typical + 1
    )


def _documents(lines: list[Box]) -> list[DocumentHint]:
    """Stacks of text lines, by the shape of the block they fill."""
    blocks: list[list[Box]] = []
    for line in lines:
        for block in blocks:
            last = block[-1]
            gap = line.y - (last.y + last.h)
            left_aligned = abs(line.x - block[0].x) < max(0.06, 2 * last.h)
            overlaps = min(line.x + line.w, last.x + last.w) > max(line.x, last.x)
            if -0.5 * last.h <= gap <= 2.5 * last.h and (left_aligned or overlaps):
                block.append(line)
                break
        else:
            blocks.append([line])
    hints: list[DocumentHint] = []
    for block in blocks:
        if len(block) < 3:
            continue
        left = min(box.x for box in block)
        top = min(box.y for box in block)
        right = max(box.x + box.w for box in block)
        bottom = max(box.y + box.h for box in block)
        box = Box(left, top, right - left, bottom - top)
        aspect = box.w / box.h if box.h else 0.0
        if len(block) >= 8 and aspect < 0.9:
            kind = "receipt"
        elif len(block) >= 8:
            kind = "page"
        else:
            kind = "card"
        hints.append(DocumentHint(kind, box, len(block)))
    return hints


def _screen_or_paper(doc: DocumentHint, grey: Any) -> DocumentHint:
    """A screen (dark mode, or light mode in a dark frame) or paper: ``content_screen``."""
    if on_screen(grey, doc.box.pixels(grey.shape[1], grey.shape[0]), doc.lines):
        return DocumentHint("screen", doc.box, doc.lines)
    return doc


def _overlap(a: Box, b: Box) -> float:
    """The part of ``a``'s area that lies inside ``b``."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if width <= 0 or height <= 0 or a.w * a.h == 0:
        return 0.0
    return (width * height) / (a.w * a.h)


__all__ = ["Box", "ContentFindings", "DocumentHint", "NumberRun", "scan"]
