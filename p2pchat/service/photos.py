"""The user's photo file, read once for every front end: its limit and its refusals.

A front end names a file; the service reads it. ``MAX_PHOTO_FILE_BYTES`` is
checked before a byte is read, so a huge file is refused without allocating
it; what is not a regular file, too large or unreadable is ``ImageRejected``
(exit 5) in the user's language. The bytes then go to
``ChatService.prepare_image`` (an isolated worker strips and checks them).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from p2pchat.media.policy import CONTENT_CATEGORIES, ContentFixes, SanitizedImage
from p2pchat.media.report import PrivacyReport
from p2pchat.service.photo_file import MAX_PHOTO_FILE_BYTES, read_photo
from p2pchat.store.received_files import SaveFailed, check_writable, save_received

if TYPE_CHECKING:  # `p2pchat receive` checks its folder first, before any of the service
    from p2pchat.service.api import ChatSession

__all__ = [
    "CONTENT_CATEGORIES",
    "MAX_PHOTO_FILE_BYTES",
    "ContentFixes",
    "PrivacyReport",
    "SanitizedImage",
    "SaveFailed",
    "check_writable",
    "prepare_photo",
    "read_photo",
    "save_received",
]


async def prepare_photo(
    service: ChatSession,
    path: str | os.PathLike[str],
    original_size: bool = False,
    *,
    fixes: ContentFixes | None = None,
    max_side: int | None = None,
) -> SanitizedImage:
    """Read ``path`` (off the event loop) and prepare it with ``service.prepare_image``."""
    data = await asyncio.to_thread(read_photo, path)
    return await service.prepare_image(data, original_size, fixes=fixes, max_side=max_side)
