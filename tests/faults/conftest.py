"""Fixtures for fault tests: a noise image big enough to interrupt, an output folder,
a tiny (full, or read-only) disk.

``mailbox_process`` and ``config_dirs`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.netns import noise_png


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 17 MB of PNG noise: several seconds on loopback, so a kill lands mid-transfer."""
    return noise_png(tmp_path_factory.mktemp("big") / "noise.png")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "received"
    path.mkdir()
    return path


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a 64 KiB tmpfs (``small_disk("ro")`` for a read-only one); unmounted after.

    Skips (with the reason) where mounting is not permitted, e.g. without root.
    """
    mounted: list[Path] = []

    def mount(*options: str, name: str = "disk", size: str = "64k") -> Path:
        target = tmp_path / name
        target.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs", target],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)
