"""Shared helpers of the demo tests: exiftool on bytes, widget texts, polling."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

DEADLINE = 60.0
# Groups exiftool reports for any JPEG (file system, container, its own version):
# anything else is metadata that came with the picture.
STRUCTURAL_GROUPS = frozenset({"ExifTool", "System", "File", "JFIF", "Composite"})


def exiftool_tags(data: bytes, tmp_path: Path, name: str) -> dict[str, object]:
    """``exiftool -j -a -G1`` over ``data`` written to a file of the test's tmp dir."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    (tags,) = json.loads(result.stdout)
    return tags


def metadata_tags(tags: dict[str, object]) -> dict[str, object]:
    """The tags that are not about the file or the pixel grid (and every GPS tag)."""
    return {
        key: value
        for key, value in tags.items()
        if ":" in key and (key.split(":", 1)[0] not in STRUCTURAL_GROUPS or "GPS" in key)
    }


def text_of(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


async def until(condition: Callable[[], object], what: str, deadline: float = DEADLINE) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), deadline)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")
