"""settings.toml: defaults, round trip, environment override, clear errors."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from p2pchat.store import settings
from p2pchat.store.settings import Settings, SettingsError


def write(config_dir: Path, text: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "settings.toml").write_text(text, encoding="utf-8")


def test_defaults_without_a_file(config_dir: Path) -> None:
    loaded = settings.load()
    assert loaded == Settings()
    assert loaded.mailbox_url == "ws://relay.magic-wormhole.io:4000/v1"
    assert loaded.stun_urls == settings.DEFAULT_STUN_URLS
    assert loaded.stun_urls == ("stun:stun.l.google.com:19302", "stun:stun.cloudflare.com:3478")
    assert loaded.transit_relay == "tcp:transit.magic-wormhole.io:4001"
    assert loaded.turn_url is None and loaded.relay_only is False
    assert loaded.stun_notice_shown is False
    assert (loaded.max_long_edge, loaded.language, loaded.view_seconds) == (2048, "auto", 10)


def test_save_load_round_trip(config_dir: Path) -> None:
    original = Settings(
        mailbox_url="wss://mailbox.example.test/v1",
        stun_urls=("stun:127.0.0.1:3478", "stun:[::1]:3478"),
        turn_url="turn:127.0.0.1:3479?transport=udp",
        turn_username='user "quoted"',
        turn_credential="back\\slash ünïcode 秘密",
        turn_secret="s3cret",
        relay_only=True,
        max_long_edge=1024,
        language="ja",
        view_seconds=5,
    )
    path = settings.save(original)
    assert path == config_dir / "settings.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert settings.load() == original


def test_environment_overrides_the_mailbox(config_dir: Path) -> None:
    write(config_dir, 'mailbox_url = "ws://127.0.0.1:1/v1"\n')
    assert settings.load().mailbox_url == "ws://127.0.0.1:1/v1"
    env = {"P2PCHAT_MAILBOX": "ws://127.0.0.1:2/v1"}
    assert settings.load(environ=env).mailbox_url == "ws://127.0.0.1:2/v1"


def test_bad_environment_mailbox_names_the_variable(config_dir: Path) -> None:
    with pytest.raises(SettingsError, match="P2PCHAT_MAILBOX"):
        settings.load(environ={"P2PCHAT_MAILBOX": "http://nope"})


def test_unknown_keys_warn_but_load(config_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(config_dir, "view_seconds = 7\ncolour_theme = 'dark'\n")
    with caplog.at_level(logging.WARNING, logger="p2pchat.store.settings"):
        loaded = settings.load()
    assert loaded.view_seconds == 7
    assert "colour_theme" in caplog.text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('max_long_edge = "big"', "max_long_edge"),
        ("max_long_edge = 10", "max_long_edge"),
        ("view_seconds = true", "view_seconds"),
        ('relay_only = "yes"', "relay_only"),
        ('relay_only = true\ntransit_relay = ""', "relay_only"),  # without any relay
        ('transit_relay = "transit.example:4001"', "transit_relay"),
        ('transit_relay = "tcp:transit.example:99999"', "transit_relay"),
        ("stun_notice_shown = 1", "stun_notice_shown"),
        ('stun_urls = "stun:127.0.0.1:3478"', "stun_urls"),
        ("stun_urls = [1, 2]", "stun_urls"),
        ('language = "fr"', "language"),
        ("mailbox_url = 5", "mailbox_url"),
        ('turn_url = "http://x"', "turn_url"),
    ],
)
def test_wrong_values_are_clear_errors(config_dir: Path, text: str, key: str) -> None:
    write(config_dir, text + "\n")
    with pytest.raises(SettingsError, match=key):
        settings.load()


def test_stun_and_the_transit_relay_can_be_turned_off(config_dir: Path) -> None:
    write(config_dir, 'stun_urls = []\ntransit_relay = ""\n')
    loaded = settings.load()
    assert loaded.stun_urls == () and loaded.transit_relay == ""
    settings.save(loaded)
    assert settings.load() == loaded


def test_relay_only_may_use_the_transit_relay_alone(config_dir: Path) -> None:
    write(config_dir, "relay_only = true\n")
    loaded = settings.load()
    assert loaded.relay_only and loaded.turn_url is None and loaded.transit_relay


def test_invalid_toml_is_a_clear_error(config_dir: Path) -> None:
    write(config_dir, "mailbox_url = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        settings.load()
