"""Fixtures for the store tests: every test gets its own configuration directory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "config"
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(directory))
    monkeypatch.delenv("P2PCHAT_PASSPHRASE", raising=False)
    monkeypatch.delenv("P2PCHAT_MAILBOX", raising=False)
    return directory


@pytest.fixture
def run_cli(config_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m p2pchat ARGS` in a subprocess with a non-terminal stdin."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
        full_env["P2PCHAT_CONFIG_DIR"] = str(config_dir)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "p2pchat", *args],
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
