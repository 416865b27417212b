"""The real `p2pchat demo` binary: ``--check`` exits 0, and the Japanese demo steps in tmux.

The tmux test runs ``p2pchat demo --lang ja`` in a private tmux server (200x50),
presses PageDown / F6 / PageUp the way a presenter does, and reads the screen:
Japanese lesson text, the step counter moving, and each step's ✔ line. Waits
poll the screen with a deadline; nothing is timed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.tui.demo.lessons import STEPS
from tests.tui.tmux import TmuxServer, tmux_available

P2PCHAT = Path(sys.executable).with_name("p2pchat")
START_TIMEOUT = 60.0
STEP_TIMEOUT = 40.0

pytestmark = pytest.mark.skipif(
    not P2PCHAT.exists(), reason="the p2pchat console script is not installed"
)


def test_demo_check_exits_zero_with_one_line_per_step(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(P2PCHAT), "demo", "--check", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=180,
        env={
            "P2PCHAT_CONFIG_DIR": str(tmp_path / "config"),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        },
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    step_lines = [line for line in lines if line.startswith(("ok", "FAIL"))]
    assert len(step_lines) == len(STEPS)  # one line per step of the lessons
    assert all(line.startswith("ok") for line in step_lines)
    assert lines[-1] == "Every step's claim held."


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")
def test_japanese_demo_steps_in_a_real_terminal(tmp_path: Path) -> None:
    with TmuxServer(tmp_path / "tmux") as tmux:
        pane = tmux.new_session(
            "demo",
            [str(P2PCHAT), "demo", "--lang", "ja", "--images", "halfcell"],
            env={"P2PCHAT_CONFIG_DIR": str(tmp_path / "config")},
            size=(200, 50),
        )
        try:
            screen = pane.wait_for(f"ステップ 1/{len(STEPS)}", timeout=START_TIMEOUT)
            assert "写真が運んでいるもの" in screen
            pane.wait_for("✔ その場で確認しました", timeout=STEP_TIMEOUT)
            # Both peers paired for real before the sending lesson.
            pane.wait_for(lambda s: s.count("接続済み") >= 2, timeout=START_TIMEOUT)

            pane.press("NPage")
            screen = pane.wait_for(f"ステップ 2/{len(STEPS)}", timeout=STEP_TIMEOUT)
            assert "アリスが送り" in screen
            # Bob's X-ray of the photo and Alice's text in Bob's pane: both, in either
            # order (the photo, cleaned by a warm worker, may be drawn before the text).
            pane.wait_for(
                lambda s: "何もありません" in s and "今日の展望台からの眺めを見て" in s,
                timeout=STEP_TIMEOUT,
            )

            pane.press("F6")
            screen = pane.wait_for(f"ステップ 3/{len(STEPS)}", timeout=STEP_TIMEOUT)
            assert "3秒チェック" in screen

            pane.press("PPage")
            pane.wait_for(f"ステップ 2/{len(STEPS)}", timeout=STEP_TIMEOUT)
            pane.press("F6")
            pane.wait_for(f"ステップ 3/{len(STEPS)}", timeout=STEP_TIMEOUT)
            pane.press("C-q")
            assert pane.wait_exit(timeout=STEP_TIMEOUT) == 0
        except Exception:
            pane.save(tmp_path / "demo-screen.txt")
            raise
