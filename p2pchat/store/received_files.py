"""Writing received images to a folder: names we choose, complete files only.

Shared by `p2pchat receive` and `p2pchat headless --save-dir`. The peer's file
name is never used: a peer string is a label, never a path. A photo that cannot
be written raises ``SaveFailed`` (a full or read-only disk): the caller reports
it and tells the sender, it is never lost in silence.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_OUTPUT_FAILED

MAX_NAME_ATTEMPTS = 1000


class SaveFailed(P2PChatError):
    """A received photo could not be written to the chosen folder."""

    reason = "save_failed"

    exit_code = EXIT_OUTPUT_FAILED


def check_writable(out_dir: Path) -> None:
    """Refuse a save folder that is missing or cannot take a file (read-only, a file)."""
    if not out_dir.is_dir():
        raise SaveFailed(f"{out_dir} is not a folder.")
    try:
        with tempfile.TemporaryFile(dir=out_dir, prefix=".p2pchat-probe-"):
            pass
    except OSError as error:
        raise SaveFailed(f"Cannot write into {out_dir}: {error.strerror or error}.") from None


def save_received(out_dir: Path, data: bytes, mime: str, index: int) -> Path:
    """Write a complete, re-sanitised image under a name we choose, atomically.

    Another process saving into the same folder at the same second takes a name
    we wanted: every collision (on the partial file or the final name) is retried
    with the next name. Raises ``SaveFailed`` when the photo cannot be written.
    """
    extension = ".png" if mime == "image/png" else ".jpg"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(MAX_NAME_ATTEMPTS):
        suffix = f"-{attempt}" if attempt else ""
        final = out_dir / f"p2pchat-{stamp}-{index:03d}{suffix}{extension}"
        if final.exists():
            continue
        try:
            if _write_new(out_dir, final, data):
                return final
        except OSError as error:
            raise SaveFailed(
                f"could not save the photo in {out_dir}: {error.strerror or error}"
            ) from None
    raise SaveFailed(f"could not find a free file name in {out_dir}")


def _write_new(out_dir: Path, final: Path, data: bytes) -> bool:
    """Write ``final`` via an exclusive partial file; False when either name is taken."""
    partial = out_dir / f".{final.name}.part"
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False  # another saver is writing this very name
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, final)  # fails instead of overwriting a file that appeared meanwhile
        except FileExistsError:
            return False
    finally:
        partial.unlink(missing_ok=True)
    return True
