"""Fixtures for fault tests: per-test config dirs and a noise image big enough to interrupt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import p2pchat_env, read_line, spawn, stop
from tests.faults.netns import noise_png


@pytest.fixture(scope="module")
def mailbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`p2pchat mailbox` as a real process on 127.0.0.1; yields its ws:// URL."""
    proc = spawn(
        ["mailbox", "--host", "127.0.0.1", "--port", "0"],
        p2pchat_env(tmp_path_factory.mktemp("mailbox-config")),
    )
    url = read_line(proc, timeout=30)
    assert url.startswith("ws://127.0.0.1:"), url
    yield url
    stop(proc)


@pytest.fixture
def config_dirs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "config-a", tmp_path / "config-b"
    a.mkdir()
    b.mkdir()
    return a, b


@pytest.fixture(scope="module")
def big_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 17 MB of PNG noise: several seconds on loopback, so a kill lands mid-transfer."""
    return noise_png(tmp_path_factory.mktemp("big") / "noise.png")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "received"
    path.mkdir()
    return path
