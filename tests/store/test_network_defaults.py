"""Issue 18: what the CLI connects with by default, and how each default is turned off.

Only the settings are read here; nothing is contacted. The defaults are public
servers, so tests everywhere else pass explicit local ones (tests/netguard.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.cli.main import build_parser
from p2pchat.cli.options import ice_from_args
from p2pchat.net.rtc import IceSettings
from p2pchat.store.settings import DEFAULT_STUN_URLS, DEFAULT_TRANSIT_RELAY


def ice(*argv: str) -> IceSettings:
    args = build_parser().parse_args(["send", "--text", "hi", *argv])
    result = ice_from_args(args)
    assert isinstance(result, IceSettings)
    return result


def test_a_new_user_gets_stun_and_the_transit_relay(config_dir: Path) -> None:
    settings = ice()
    assert settings.stun_urls == DEFAULT_STUN_URLS
    assert settings.transit_relay == DEFAULT_TRANSIT_RELAY == "tcp:transit.magic-wormhole.io:4001"


def test_flags_turn_each_default_off_or_replace_it(config_dir: Path) -> None:
    assert ice("--no-stun").stun_urls == ()
    assert ice("--no-transit").transit_relay is None
    assert ice("--stun", "stun:127.0.0.1:3478").stun_urls == ("stun:127.0.0.1:3478",)
    assert ice("--transit-relay", "tcp:127.0.0.1:4001").transit_relay == "tcp:127.0.0.1:4001"


def test_the_settings_file_turns_them_off(config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "settings.toml").write_text('stun_urls = []\ntransit_relay = ""\n')
    settings = ice()
    assert settings.stun_urls == () and settings.transit_relay is None


def test_loopback_never_uses_the_public_defaults(config_dir: Path) -> None:
    settings = ice("--loopback")
    assert settings.stun_urls == () and settings.transit_relay is None
    local = ice("--loopback", "--transit-relay", "tcp:127.0.0.1:4001")
    assert local.transit_relay == "tcp:127.0.0.1:4001"


def test_relay_only_without_turn_is_transit_only(config_dir: Path) -> None:
    settings = ice("--relay-only")
    assert settings.transit_only and settings.transit_relay == DEFAULT_TRANSIT_RELAY


@pytest.mark.parametrize("flag", ["--no-stun", "--no-transit", "--transit-relay"])
def test_every_talking_command_has_the_flags(flag: str) -> None:
    for command in ("send", "receive", "chat", "headless"):
        assert flag in build_parser()._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]


def test_the_relay_script_passes_the_new_flags_on() -> None:
    import subprocess
    import sys

    from tests.e2e.procs import ROOT

    help_text = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "relay"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    for flag in ("--no-stun", "--transit-relay", "--no-transit"):
        assert flag in help_text
