"""ice.py reads STUN/TURN URLs without importing aiortc: its parser must agree with aiortc's."""

from __future__ import annotations

import re

import pytest
from aiortc.rtcicetransport import parse_stun_turn_uri

from p2pchat.core.errors import TransportError
from p2pchat.net.ice import IceSettings, check_ice, ice_configuration, parse_server_uri

URLS = [
    "stun:127.0.0.1",
    "stun:127.0.0.1:3479",
    "stuns:example.org",
    "stun:[::1]:3478",
    "turn:127.0.0.1:3478",
    "turn:127.0.0.1?transport=tcp",
    "turn:127.0.0.1:3478?transport=udp",
    "turns:example.org",
    "turns:example.org:443?transport=tcp",
    "turn:host:notaport",
    "stun:",
    "stun:host:12:34",
    "stunx:host",
    "http://host",
    "turn:host?transport=",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_parse_server_uri_agrees_with_aiortc(url: str) -> None:
    try:
        expected = parse_stun_turn_uri(url)
    except ValueError:
        with pytest.raises(ValueError):
            parse_server_uri(url)
        return
    assert parse_server_uri(url) == expected


SETTINGS = [
    IceSettings(),
    IceSettings(stun_urls=("stun:127.0.0.1:3478",)),
    IceSettings(stun_urls=("turn:127.0.0.1",)),
    IceSettings(turn_url="turn:127.0.0.1:3478"),
    IceSettings(turn_url="turn:127.0.0.1:3478", turn_username="u", turn_credential="p"),
    IceSettings(turn_url="turns:127.0.0.1?transport=udp", turn_secret="s"),
    IceSettings(relay_only=True),
    IceSettings(relay_only=True, transit_relay="tcp:127.0.0.1:4001"),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_check_ice_refuses_exactly_what_ice_configuration_refuses(settings: IceSettings) -> None:
    try:
        ice_configuration(settings)
    except TransportError as error:
        with pytest.raises(TransportError, match=re.escape(str(error))):
            check_ice(settings)
        return
    check_ice(settings)
