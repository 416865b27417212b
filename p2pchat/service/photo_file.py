"""Reading the user's photo file: its size limit and its refusals (``service.photos`` re-exports).

A module of its own, importing no image library, so that `p2pchat send` can refuse a
file that is not there, unreadable or too large before it asks for a code, without
loading the photo pipeline first.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from p2pchat.core.errors import ImageRejected
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t

#: The largest photo file a front end may offer (the sanitiser then allows less).
MAX_PHOTO_FILE_BYTES: Final = 200 * 1024 * 1024


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
