"""`p2pchat invite` and `join` parse their options (the TUI itself needs a terminal)."""

from __future__ import annotations

from p2pchat.cli import cmd_tui
from p2pchat.cli.main import build_parser


def test_invite_and_join_take_network_and_language_options():
    parser = build_parser()
    args = parser.parse_args(
        ["join", "--mailbox", "ws://127.0.0.1:9/v1", "--loopback", "--lang", "ja"]
    )
    assert args.mailbox == "ws://127.0.0.1:9/v1" and args.loopback and args.lang == "ja"
    assert callable(args.func)
    args = parser.parse_args(["invite", "--images", "halfcell"])
    assert args.images == "halfcell" and not args.loopback and callable(args.func)


def test_bare_command_has_a_home_entry_point():
    assert callable(cmd_tui.run_home)
