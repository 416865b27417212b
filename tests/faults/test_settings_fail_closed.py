"""A settings file that cannot be used stops every command: exit 2, naming the line.

Falling back to the defaults silently switched "hide my IP" (``relay_only``) off
and sent the rendezvous to the public mailbox (issue 20 section 4).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.procs import ROOT, p2pchat_env

BROKEN = (
    "# relay only, through our own TURN server\n"
    'turn_url = "turn:127.0.0.1:9?transport=udp"\n'
    "relay_only = true\n"
    'max_long_edge = "big"\n'
)

# An explicit dead local mailbox: even the old fallback must never reach a public server.
NET = ["--loopback", "--mailbox", "ws://127.0.0.1:9/v1"]
COMMANDS = [
    ["headless", "--invite", *NET],
    ["send", *NET, "--text", "hello"],
    ["receive", *NET, "--out", ".", "--code", "7-guitarist-revenge"],
    ["chat", "--invite", *NET],
    ["invite", *NET],
]


def run(argv: list[str], config_dir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *argv],
        env=p2pchat_env(config_dir, PYTHONPATH=str(ROOT)),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
def test_a_bad_value_is_a_usage_error_naming_the_line(argv: list[str], tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "settings.toml").write_text(BROKEN, encoding="utf-8")
    result = run(argv, config_dir, tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "max_long_edge" in result.stderr and "line 4" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert '"code"' not in result.stdout and "code:" not in result.stdout


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "settings.toml").write_text("relay_only = true\nmailbox_url = \n")
    result = run(["headless", "--invite", *NET], config_dir, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "line 2" in result.stderr, result.stderr


def test_a_settings_file_that_is_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    (config_dir / "settings.toml").mkdir(parents=True)
    result = run(["send", *NET, "--text", "hi"], config_dir, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "settings.toml" in result.stderr and "Traceback" not in result.stderr


def test_the_mailbox_never_falls_back_to_the_public_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from p2pchat.service import default_mailbox_url
    from p2pchat.store.settings import SettingsError

    (tmp_path / "settings.toml").write_text('mailbox_url = "ws://127.0.0.1:9/v1"\nlanguage = 1\n')
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("P2PCHAT_MAILBOX", raising=False)
    with pytest.raises(SettingsError, match="line 2"):
        default_mailbox_url()
