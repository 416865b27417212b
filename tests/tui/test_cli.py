"""`p2pchat`, `p2pchat invite` and `join` from the command line: options, and the bare
command opening the home screen in a real terminal (tmux)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from p2pchat.cli.main import build_parser
from tests.tui.tmux import TmuxServer, tmux_available

P2PCHAT = Path(sys.executable).with_name("p2pchat")


def test_invite_and_join_take_network_and_language_options():
    parser = build_parser()
    args = parser.parse_args(
        ["join", "--mailbox", "ws://127.0.0.1:9/v1", "--loopback", "--lang", "ja"]
    )
    assert args.mailbox == "ws://127.0.0.1:9/v1" and args.loopback and args.lang == "ja"
    args = parser.parse_args(["invite", "--images", "halfcell"])
    assert args.images == "halfcell" and not args.loopback
    with pytest.raises(SystemExit):
        parser.parse_args(["invite", "--images", "sixel-please"])


@pytest.mark.skipif(not tmux_available(), reason="tmux is not installed")
@pytest.mark.skipif(not P2PCHAT.exists(), reason="the p2pchat console script is not installed")
def test_bare_command_opens_the_home_screen_and_quits_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    # Nothing public may be contacted from a test: no STUN, no relay, a dead local mailbox.
    (config / "settings.toml").write_text(
        'stun_urls = []\ntransit_relay = ""\nmailbox_url = "ws://127.0.0.1:9/v1"\n'
    )
    with TmuxServer(tmp_path / "tmux") as tmux:
        pane = tmux.new_session(
            "home",
            [str(P2PCHAT)],
            env={"P2PCHAT_CONFIG_DIR": str(config), "LANG": "C.UTF-8"},
            size=(80, 24),
        )
        try:
            # First run: the app asks for a display name, then offers to seal the new
            # identity; Esc skips each.
            pane.wait_for("Which name should the other person see?", timeout=60)
            pane.press("Escape")
            pane.wait_for("Skip for now", timeout=30)
            pane.press("Escape")
            screen = pane.wait_for(lambda s: "Skip for now" not in s, timeout=30)
            assert "New invite" in screen and "Your identity fingerprint" in screen
            pane.press("C-q")
            assert pane.wait_exit(timeout=30) == 0
        except Exception:
            pane.save(tmp_path / "home-screen.txt")
            raise
