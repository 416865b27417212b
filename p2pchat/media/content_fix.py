"""Fix what a picture shows before it leaves: pixelate faces, text and hand-drawn boxes.

``ContentFixes`` is the sender's choice (blur every detected face, every detected
text line, and boxes drawn by hand as fractions of the picture; defined in the
Pillow-free ``media.policy``, re-exported here); ``content_pass``
runs in the sanitiser on the upright, resized pixels: it scans (``content_scan``),
pixelates what was asked, and returns report findings that say what is still
visible and what was blurred. The findings stay with the sender.

A mosaic is only private if it is coarse: the block size is proportional to the
box (a face becomes about four blocks across), and a blur half a block wide hides
their edges, so sharpening the result does not bring a face back to the detector,
nor even near it (``tests/media/test_content_faces.py``).
"""

from __future__ import annotations

import math

from PIL import Image, ImageFilter

from p2pchat.media.content_scan import Box, ContentFindings, scan
from p2pchat.media.policy import CONTENT_CATEGORIES, MAX_BOXES, ContentFixes
from p2pchat.media.report import Finding

# Mosaic blocks across a face's long side: at five, the face network still gave a
# blurred face 0.5 (0.7 calls it a face); at four, with the wider blur, 0.26 at most.
FACE_BLOCKS = 4
HAND_BLOCKS = 8  # across a hand-drawn box's long side
FACE_MARGIN = 0.2  # hair, ears and chin around the detector's box
TEXT_MARGIN = 0.3  # of the line's height, for ascenders and descenders


def content_pass(
    image: Image.Image, fixes: ContentFixes, *, scan_content: bool = True
) -> tuple[Image.Image, list[Finding]]:
    """Scan ``image``, pixelate what ``fixes`` asks, and word what is left and what was done."""
    found = scan(image) if (scan_content or fixes.blur_faces or fixes.blur_text) else None
    found = found or ContentFindings()
    result = image
    blurred: dict[str, int] = {}
    if fixes.blur_faces and found.faces:
        for box in found.faces:
            result = pixelate(result, _grow(box, FACE_MARGIN, FACE_MARGIN), FACE_BLOCKS)
        blurred["faces"] = len(found.faces)
    if fixes.blur_text and found.text:
        for box in found.text:
            margin = TEXT_MARGIN * box.h
            result = pixelate(result, _grow(box, margin / max(box.w, 1e-6), TEXT_MARGIN), None)
        # A number read past the end of a line the finder saw is blurred whole too.
        for run in found.numbers:
            result = pixelate(result, _grow(run.box, 0.02, TEXT_MARGIN), None)
        blurred["text"] = len(found.text)
    for box in fixes.boxes:
        result = pixelate(result, box, HAND_BLOCKS)
    if fixes.boxes:
        blurred["boxes"] = len(fixes.boxes)
    left = ContentFindings(
        faces=[] if fixes.blur_faces else found.faces,
        text=[] if fixes.blur_text else found.text,
        documents=[] if fixes.blur_text else found.documents,
        numbers=[] if fixes.blur_text else found.numbers,
        digit_check=found.digit_check,
    )
    findings = left.findings() if scan_content else []
    if blurred:
        findings.append(_blurred_finding(blurred))
    return result, findings


def pixelate(image: Image.Image, box: Box, blocks: int | None) -> Image.Image:
    """A coarse mosaic over ``box``, softened so its block edges carry nothing.

    ``blocks`` is how many blocks span the box's long side; ``None`` (text lines)
    makes each block about as tall as the line, so neighbouring letters merge.
    """
    left, top, right, bottom = box.pixels(image.width, image.height)
    width, height = right - left, bottom - top
    if width < 2 or height < 2:
        return image
    block = (
        math.ceil(max(width, height) / blocks) if blocks else math.ceil(min(width, height) * 0.8)
    )
    block = max(4, block)
    region = image.crop((left, top, right, bottom))
    small = region.resize(
        (max(1, round(width / block)), max(1, round(height / block))), Image.Resampling.BOX
    )
    mosaic = small.resize((width, height), Image.Resampling.NEAREST)
    mosaic = mosaic.filter(ImageFilter.GaussianBlur(radius=max(1.0, block / 2)))
    out = image.copy()
    out.paste(mosaic, (left, top))
    return out


def _grow(box: Box, x_margin: float, y_margin: float) -> Box:
    dx, dy = box.w * x_margin, box.h * y_margin
    left, top = max(0.0, box.x - dx), max(0.0, box.y - dy)
    right, bottom = min(1.0, box.x + box.w + dx), min(1.0, box.y + box.h + dy)
    return Box(left, top, right - left, bottom - top)


def _blurred_finding(blurred: dict[str, int]) -> Finding:
    parts = []
    if "faces" in blurred:
        parts.append(f"{blurred['faces']} face(s)")
    if "text" in blurred:
        parts.append(f"{blurred['text']} line(s) of text")
    if "boxes" in blurred:
        parts.append(f"{blurred['boxes']} area(s) chosen by hand")
    return Finding(
        "blurred",
        "low",
        f"Blurred before sending: {', '.join(parts)}.",
        {
            "i18n": "report.content.blurred",
            "i18n_args": {
                "faces": blurred.get("faces", 0),
                "text": blurred.get("text", 0),
                "boxes": blurred.get("boxes", 0),
            },
            "blurred": dict(blurred),
        },
    )


__all__ = [
    "CONTENT_CATEGORIES",
    "MAX_BOXES",
    "ContentFixes",
    "content_pass",
    "pixelate",
]
