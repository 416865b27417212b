"""The terminal stays clean: graphics probes are asked only where they leave no trace.

textual-image asks the terminal about sixel and the kitty graphics protocol when it
is imported. Under tmux the kitty query (an APC string) became the pane title
(``Gi=...,a=q,t=d,f=24;AAAA``), even with ``--images halfcell``. These tests check
the policy, and the pane title of a real ``p2pchat demo`` in tmux after start and
after exit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from p2pchat.tui.widgets.image_view import ProbePolicy, probe_policy
from tests.tui.tmux import TmuxServer, tmux_available

P2PCHAT = Path(sys.executable).with_name("p2pchat")
NOTHING = ProbePolicy(sixel=False, kitty=False, cell_size=False)


@pytest.mark.parametrize(
    ("renderer", "environ"),
    [
        ("halfcell", {"TERM": "xterm-kitty"}),
        ("auto", {"TMUX": "/tmp/tmux-0/default,1,0", "TERM": "tmux-256color"}),
        ("auto", {"STY": "1234.pts-0.host", "TERM": "screen"}),
        ("auto", {"TMUX": "x", "TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}),
    ],
)
def test_no_question_when_the_renderer_is_chosen_or_under_a_multiplexer(
    renderer: str, environ: dict[str, str]
) -> None:
    assert probe_policy(renderer, environ) == NOTHING


def test_the_kitty_query_goes_only_to_terminals_that_speak_it() -> None:
    assert not probe_policy("auto", {"TERM": "xterm-256color"}).kitty
    assert probe_policy("auto", {"TERM": "xterm-256color"}).sixel
    assert probe_policy("auto", {"TERM": "xterm-kitty"}).kitty
    assert probe_policy("auto", {"TERM": "xterm-256color", "KITTY_WINDOW_ID": "3"}).kitty
    assert probe_policy("auto", {"TERM_PROGRAM": "WezTerm"}).kitty


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")
@pytest.mark.skipif(not P2PCHAT.exists(), reason="the p2pchat console script is not installed")
@pytest.mark.parametrize("images", ["halfcell", "auto"])
def test_pane_title_is_untouched_after_start_and_after_exit(tmp_path: Path, images: str) -> None:
    with TmuxServer(tmp_path / "tmux") as tmux:
        reference = tmux.new_session("reference", ["sleep", "120"])
        pane = tmux.new_session(
            "demo",
            [str(P2PCHAT), "demo", "--images", images],
            env={"P2PCHAT_CONFIG_DIR": str(tmp_path / "config")},
            size=(100, 30),
        )
        try:
            pane.wait_for("step 1 of 8", timeout=60)
            expected = reference.title()
            started = pane.title()
            assert "a=q" not in started and "Gi=" not in started
            assert started == expected
            pane.press("C-q")
            assert pane.wait_exit(timeout=40) == 0
            ended = pane.title()
            assert ended == expected
            assert "\x1b" not in pane.capture(history=True)
        except Exception:
            pane.save(tmp_path / "demo-screen.txt")
            raise
