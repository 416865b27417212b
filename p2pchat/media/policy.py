"""What the chat process hands the sanitiser and gets back, without importing Pillow.

``SanitizePolicy`` (how much to keep, on which side), ``SanitizedImage`` (clean
bytes and the report), ``ContentFixes`` (what the sender asked to blur) and the
pixel limits. The service needs these types from the moment it starts; the
decoders only in a worker, once a photo is sent or arrives (``media.sanitize``,
run by ``media.worker``). Keeping them here keeps Pillow and the content X-ray
out of a chat process that is still pairing: `p2pchat receive` joins sooner
(``tests/e2e/test_door_to_door.py`` checks what a fresh process has imported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from p2pchat.media.report import PrivacyReport

if TYPE_CHECKING:  # the picture check's boxes: loaded by the sender's fixes, not to receive
    from p2pchat.media.content_boxes import Box

Side = Literal["send", "receive"]

DEFAULT_MAX_LONG_EDGE = 2048
DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_SIDE = 16384
# Pillow's own decompression-bomb threshold (about 90 MP); the sanitiser uses the same.
MAX_PIXELS = 89_478_485

# The categories the content X-ray adds to a report: told apart from what was removed.
CONTENT_CATEGORIES = frozenset(
    {"face_visible", "document_visible", "number_visible", "text_visible", "digit_check", "blurred"}
)
MAX_BOXES = 32


@dataclass(frozen=True)
class ContentFixes:
    """What to blur before sending; boxes are fractions of the picture."""

    blur_faces: bool = False
    blur_text: bool = False
    boxes: tuple[Box, ...] = ()

    @property
    def active(self) -> bool:
        return self.blur_faces or self.blur_text or bool(self.boxes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "blur_faces": self.blur_faces,
            "blur_text": self.blur_text,
            "boxes": [box.to_list() for box in self.boxes],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ContentFixes:
        """From JSON (a worker request, a headless command); ValueError when malformed."""
        if not isinstance(data, dict):
            raise ValueError("content fixes must be an object")
        blur_faces, blur_text = data.get("blur_faces", False), data.get("blur_text", False)
        boxes = data.get("boxes", [])
        if not isinstance(blur_faces, bool) or not isinstance(blur_text, bool):
            raise ValueError("blur_faces and blur_text are true or false")
        if not isinstance(boxes, list) or len(boxes) > MAX_BOXES:
            raise ValueError(f"boxes is a list of at most {MAX_BOXES} [x, y, w, h] fractions")
        if not boxes:
            return cls(blur_faces, blur_text)
        from p2pchat.media.content_boxes import Box

        return cls(blur_faces, blur_text, tuple(Box.from_list(box) for box in boxes))


@dataclass(frozen=True)
class SanitizePolicy:
    """How much to keep. ``max_long_edge=None`` keeps the original size (an explicit choice)."""

    max_long_edge: int | None = DEFAULT_MAX_LONG_EDGE
    side: Side = "send"
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    max_pixels: int = MAX_PIXELS
    # The content X-ray (media/content_scan.py): sender side only, told to the sender only.
    scan_content: bool = False
    fixes: ContentFixes = field(default_factory=ContentFixes)


@dataclass
class SanitizedImage:
    """Clean image bytes ready for the wire, and the report of what was removed."""

    data: bytes
    mime: str
    width: int
    height: int
    report: PrivacyReport = field(repr=False)
