"""ICE server URLs: p2pchat's own parser (net/ice.py, so that checking settings does not
import aiortc) against aiortc's, on mutated URLs; and check_ice against ice_configuration."""

from __future__ import annotations

from aiortc.rtcicetransport import parse_stun_turn_uri
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import TransportError
from p2pchat.net.ice import IceSettings, check_ice, ice_configuration, parse_server_uri
from tests.fuzz.conftest import EXAMPLES, mutated

FAST = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
SEEDS = [
    b"stun:127.0.0.1:3478",
    b"stuns:example.org",
    b"turn:127.0.0.1?transport=tcp",
    b"turns:host:5349?transport=tcp",
    b"turn:[::1]:3478?transport=udp",
]


def _parse(parser: object, url: str) -> object:
    try:
        return parser(url)  # type: ignore[operator]
    except ValueError:
        return ValueError


@FAST
@given(st.data())
def test_our_url_parser_agrees_with_aiortcs(data: st.DataObject) -> None:
    EXAMPLES["ice"] += 1
    url = data.draw(mutated(SEEDS)).decode("latin-1")
    assert _parse(parse_server_uri, url) == _parse(parse_stun_turn_uri, url), repr(url)


@FAST
@given(st.data(), st.booleans(), st.booleans())
def test_check_ice_refuses_what_ice_configuration_refuses(
    data: st.DataObject, as_turn: bool, relay_only: bool
) -> None:
    EXAMPLES["ice"] += 1
    url = data.draw(mutated(SEEDS)).decode("latin-1")
    ice = (
        IceSettings(turn_url=url, turn_username="u", turn_credential="p", relay_only=relay_only)
        if as_turn
        else IceSettings(stun_urls=(url,), relay_only=relay_only)
    )
    try:
        ice_configuration(ice)
    except TransportError as error:
        try:
            check_ice(ice)
        except TransportError as ours:
            assert str(ours) == str(error)
        else:
            raise AssertionError(f"check_ice accepted {url!r}") from None
        return
    check_ice(ice)
