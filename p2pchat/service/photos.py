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
import stat
from pathlib import Path
from typing import Final

from p2pchat.core.errors import ImageRejected
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.media.policy import CONTENT_CATEGORIES, ContentFixes, SanitizedImage
from p2pchat.media.report import PrivacyReport
from p2pchat.service.api import ChatSession
from p2pchat.store.received_files import SaveFailed, check_writable, save_received

#: The largest photo file a front end may offer (the sanitiser then allows less).
MAX_PHOTO_FILE_BYTES: Final = 200 * 1024 * 1024

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


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _refused(key: str, **params: object) -> ImageRejected:
    """A refusal worded from ``key`` now, and again in the reader's language later."""
    return ImageRejected(t(key, **params)).because(key, **params)


def read_photo(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, refusing what is not a regular file, is too large or unreadable."""
    file = Path(path)
    shown = safe_label(str(file), 200)  # a path is shown, never interpreted as markup
    try:
        status = file.stat()
        if not stat.S_ISREG(status.st_mode):  # a FIFO or a device would block or never end
            raise _refused("send.not_a_file", path=shown)
        if status.st_size > MAX_PHOTO_FILE_BYTES:
            raise _refused("send.too_large", size=_megabytes(status.st_size))
        with file.open("rb") as handle:
            # Read at most one byte past the limit: a file that grew meanwhile is refused too.
            data = handle.read(MAX_PHOTO_FILE_BYTES + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _refused("send.cannot_read", path=shown, reason=reason) from None
    if len(data) > MAX_PHOTO_FILE_BYTES:
        raise _refused("send.too_large", size=_megabytes(len(data)))
    return data


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
