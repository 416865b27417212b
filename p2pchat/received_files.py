"""Writing received images to a folder: names we choose, complete files only.

Shared by `p2pchat receive` and `p2pchat headless --save-dir`. The peer's file
name is never used: a peer string is a label, never a path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def save_received(out_dir: Path, data: bytes, mime: str, index: int) -> Path:
    """Write a complete, re-sanitised image under a name we choose, atomically."""
    extension = ".png" if mime == "image/png" else ".jpg"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        final = out_dir / f"p2pchat-{stamp}-{index:03d}{suffix}{extension}"
        if not final.exists():
            break
    partial = out_dir / f".{final.name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, final)  # fails instead of overwriting a file that appeared meanwhile
    finally:
        partial.unlink(missing_ok=True)
    return final
