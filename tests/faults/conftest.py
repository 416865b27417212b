"""Fixtures for fault tests: a noise image big enough to interrupt, an output folder.

``mailbox_process`` and ``config_dirs`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

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
