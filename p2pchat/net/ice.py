"""ICE settings: which STUN / TURN servers to use, always explicitly, and TURN credentials.

``ice_configuration`` turns ``IceSettings`` into aiortc's ``RTCConfiguration``
(``iceServers=[]`` when none, so aiortc never falls back to Google's STUN
server) and refuses unusable setups before anyone waits: malformed URLs, TURN
without credentials, relay-only without TURN. ``turn_rest_credentials`` derives
coturn REST-API credentials from a shared secret.

Importing this module does not import aiortc (about 0.2 s, it pulls in PyAV):
``check_ice`` validates settings without it, so a front end can refuse a bad
setup and show its code before the WebRTC stack is loaded (``net/rtc_preload``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from p2pchat.core.errors import TransportError

if TYPE_CHECKING:
    from aiortc import RTCConfiguration

#: How long TURN REST credentials derived from a shared secret stay valid.
TURN_REST_TTL_SECONDS: Final = 24 * 3600
TURN_REST_USER: Final = "p2pchat"

_LOOPBACK_HOSTNAMES: Final = frozenset({"localhost", "localhost."})
# aiortc 1.16's STUN_REGEX and TURN_REGEX (rtcicetransport.py), copied so that
# checking a URL does not import aiortc; tests/net/test_ice.py compares the two.
_SERVER_URI: Final = re.compile(
    r"(?P<scheme>stun|stuns|turn|turns)\:(?P<host>[^?:]+)(\:(?P<port>[0-9]+?))?"
    r"(\?transport=(?P<transport>.*))?"
)


@dataclass(frozen=True)
class IceSettings:
    """Which STUN / TURN servers to use; the default is none at all (LAN / same machine).

    ``turn_secret`` is a coturn ``static-auth-secret`` (TURN REST API): when set, the
    username and credential are derived from it and ``turn_username`` /
    ``turn_credential`` are ignored. aioice uses only the first STUN URL.
    ``transit_relay`` (``tcp:HOST:PORT``) is the magic-wormhole transit relay both
    sides fall back to when ICE finds no path; with ``relay_only`` and no TURN
    server, everything goes through it and ICE gathers no address at all.
    """

    stun_urls: tuple[str, ...] = ()
    turn_url: str | None = None
    turn_username: str | None = None
    turn_credential: str | None = field(default=None, repr=False)
    turn_secret: str | None = field(default=None, repr=False)
    relay_only: bool = False
    transit_relay: str | None = None

    @property
    def transit_only(self) -> bool:
        """Relay-only through the transit relay: no ICE candidate is ever offered."""
        return self.relay_only and self.turn_url is None and self.transit_relay is not None


def turn_rest_credentials(
    secret: str,
    *,
    ttl_seconds: int = TURN_REST_TTL_SECONDS,
    now: Callable[[], float] = time.time,
) -> tuple[str, str]:
    """coturn's REST-API credentials: ``("<expiry>:p2pchat", base64(HMAC-SHA1(secret, user)))``."""
    username = f"{int(now()) + ttl_seconds}:{TURN_REST_USER}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def parse_server_uri(uri: str) -> dict[str, Any]:
    """aiortc's ``parse_stun_turn_uri``: scheme, host, port and transport, or ValueError."""
    match = _SERVER_URI.fullmatch(uri)
    if match is None:
        raise ValueError("malformed uri")
    parsed: dict[str, Any] = match.groupdict()
    if parsed["port"]:
        parsed["port"] = int(parsed["port"])
    else:
        parsed["port"] = 5349 if parsed["scheme"] in ("stuns", "turns") else 3478
    if parsed["scheme"] == "turn" and not parsed["transport"]:
        parsed["transport"] = "udp"
    elif parsed["scheme"] == "turns" and not parsed["transport"]:
        parsed["transport"] = "tcp"
    elif parsed["scheme"] in ("stun", "stuns"):
        if parsed["transport"] is not None:
            raise ValueError("malformed uri: a STUN URL has no transport")
        del parsed["transport"]
    return parsed


def _parse_server_url(url: str, expected: Literal["stun", "turn"]) -> dict[str, Any]:
    try:
        parsed = parse_server_uri(url)
    except ValueError:
        parsed = None
    if expected == "stun":
        # aioice silently ignores stuns: and transports on STUN URLs.
        ok = parsed is not None and parsed["scheme"] == "stun"
        shape = "stun:HOST[:PORT]"
    else:
        # aioice silently ignores turn: over anything but udp/tcp and turns: over udp.
        ok = parsed is not None and (
            (parsed["scheme"] == "turn" and parsed["transport"] in ("udp", "tcp"))
            or (parsed["scheme"] == "turns" and parsed["transport"] == "tcp")
        )
        shape = "turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT]"
    if not ok or parsed is None:
        raise TransportError(
            f"{url!r} is not a usable {expected.upper()} server address; write it as {shape}."
        )
    return parsed


def check_ice(settings: IceSettings, *, now: Callable[[], float] = time.time) -> None:
    """Refuse what ``ice_configuration`` would refuse, without importing aiortc."""
    _servers(settings, now)


def ice_configuration(
    settings: IceSettings, *, now: Callable[[], float] = time.time
) -> RTCConfiguration:
    """The explicit RTCConfiguration for ``settings`` (``iceServers=[]`` when none).

    Raises ``TransportError`` for a malformed URL, TURN without credentials, or
    relay-only with neither a TURN server nor a transit relay.
    """
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCIceTransportPolicy

    servers = [RTCIceServer(**server) for server in _servers(settings, now)]
    policy = RTCIceTransportPolicy.RELAY if settings.relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def _servers(settings: IceSettings, now: Callable[[], float]) -> list[dict[str, Any]]:
    """The ICE servers as RTCIceServer keyword arguments, after every check."""
    servers: list[dict[str, Any]] = []
    for url in settings.stun_urls:
        _parse_server_url(url, "stun")
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})

    if settings.turn_url is not None:
        _parse_server_url(settings.turn_url, "turn")
        if settings.turn_secret:
            username, credential = turn_rest_credentials(settings.turn_secret, now=now)
        elif settings.turn_username and settings.turn_credential is not None:
            username, credential = settings.turn_username, settings.turn_credential
        else:
            raise TransportError(
                "The TURN server needs credentials: set a TURN username and password, "
                "or the server's shared secret (coturn static-auth-secret)."
            )
        servers.append({"urls": settings.turn_url, "username": username, "credential": credential})

    if settings.relay_only:
        if settings.turn_url is None and settings.transit_relay is None:
            raise TransportError(
                "Relay-only mode hides your IP address by sending everything through a "
                "relay, but neither a TURN server nor a transit relay is configured. Set "
                "one (turn:HOST:PORT with credentials, or transit_relay) or turn "
                "relay-only off."
            )
        if settings.turn_url is None:
            # Transit only: no STUN either, so not even our public address is gathered.
            servers = []
    return servers


def server_hosts(configuration: RTCConfiguration) -> list[str]:
    hosts: list[str] = []
    for server in configuration.iceServers or []:
        urls = server.urls if isinstance(server.urls, list) else [server.urls]
        hosts.extend(str(parse_server_uri(url)["host"]) for url in urls)
    return hosts


def check_loopback_servers(configuration: RTCConfiguration) -> None:
    """Loopback mode refuses any ICE server outside this machine."""
    for host in server_hosts(configuration):
        if not is_loopback(host):
            raise TransportError(
                "Loopback mode only talks to this machine, but an ICE server "
                "outside it is configured. Remove it or leave loopback mode."
            )


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_HOSTNAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
