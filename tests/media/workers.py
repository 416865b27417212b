"""Image-worker processes as the system sees them, for tests that must not trust the code."""

from __future__ import annotations

import os
from pathlib import Path


def worker_children() -> list[int]:
    """Live image-worker processes whose parent is this test process (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and state != "Z" and b"p2pchat.media.worker" in cmdline:
            found.append(int(entry.name))
    return found
