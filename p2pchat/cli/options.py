"""Options shared by every command that talks to a peer, and the config they build."""

from __future__ import annotations

import argparse
import os
import sys

from p2pchat.core.errors import InvalidCode, InvalidLabel
from p2pchat.core.labels import check_own_label


def display_name(value: str) -> str:
    """argparse type of ``--name`` / ``--label``: refused here (exit 2), before any pairing."""
    try:
        check_own_label(value)
    except InvalidLabel as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def add_network_options(parser: argparse.ArgumentParser, *, mailbox: bool = True) -> None:
    """ICE options; ``mailbox=False`` for commands that use no rendezvous server."""
    group = parser.add_argument_group("network")
    if mailbox:
        group.add_argument(
            "--mailbox",
            metavar="URL",
            help="rendezvous (mailbox) server, e.g. ws://127.0.0.1:4000/v1; "
            "default: $P2PCHAT_MAILBOX, then the settings file, then the public "
            "magic-wormhole mailbox",
        )
    else:
        parser.set_defaults(mailbox=None)
    group.add_argument(
        "--loopback",
        action="store_true",
        help="offer only 127.0.0.1 (both peers on this machine: tests, demos)",
    )
    group.add_argument(
        "--stun",
        metavar="URL",
        action="append",
        default=None,
        help="STUN server (stun:HOST:PORT) to learn your public address behind a NAT "
        "(repeatable); default: the settings file, else two public servers. A STUN "
        "server sees your IP address",
    )
    group.add_argument(
        "--no-stun",
        action="store_true",
        help="use no STUN server (then only a relay can cross most home routers)",
    )
    group.add_argument(
        "--transit-relay",
        metavar="tcp:HOST:PORT",
        help="magic-wormhole transit relay used when no direct path opens; default: the "
        "settings file, else the public tcp:transit.magic-wormhole.io:4001. It sees "
        "both IP addresses and ciphertext, never keys or messages",
    )
    group.add_argument(
        "--no-transit",
        action="store_true",
        help="never fall back to a transit relay",
    )
    group.add_argument("--turn", metavar="URL", help="TURN relay (turn:HOST:PORT?transport=udp)")
    group.add_argument("--turn-user", metavar="NAME", help="TURN username")
    group.add_argument(
        "--turn-credential-env",
        metavar="VAR",
        default="P2PCHAT_TURN_CREDENTIAL",
        help="environment variable holding the TURN password (default %(default)s)",
    )
    group.add_argument(
        "--turn-secret-env",
        metavar="VAR",
        default="P2PCHAT_TURN_SECRET",
        help="environment variable holding coturn's REST shared secret (default %(default)s)",
    )
    group.add_argument(
        "--relay-only",
        action="store_true",
        help="hide your IP address from the peer: all traffic goes through the TURN relay, "
        "else the transit relay (slower; the relay operator still sees your address)",
    )


def ice_from_args(args: argparse.Namespace) -> object:
    from p2pchat.net.ice import IceSettings
    from p2pchat.store.settings import DEFAULT_STUN_URLS, DEFAULT_TRANSIT_RELAY

    settings = _settings()
    stun = tuple(args.stun or getattr(settings, "stun_urls", DEFAULT_STUN_URLS))
    transit: str | None = getattr(args, "transit_relay", None) or getattr(
        settings, "transit_relay", DEFAULT_TRANSIT_RELAY
    )
    if getattr(args, "loopback", False):
        # Same machine only: the public defaults are useless here and would be refused.
        if not args.stun and stun == DEFAULT_STUN_URLS:
            stun = ()
        if not getattr(args, "transit_relay", None) and transit == DEFAULT_TRANSIT_RELAY:
            transit = None
    if getattr(args, "no_stun", False):
        stun = ()
    if getattr(args, "no_transit", False):
        transit = None
    turn = args.turn or getattr(settings, "turn_url", None)
    return IceSettings(
        stun_urls=stun,
        transit_relay=transit or None,
        turn_url=turn,
        turn_username=args.turn_user or getattr(settings, "turn_username", None),
        turn_credential=os.environ.get(args.turn_credential_env)
        or getattr(settings, "turn_credential", None),
        turn_secret=os.environ.get(args.turn_secret_env) or getattr(settings, "turn_secret", None),
        relay_only=bool(args.relay_only or getattr(settings, "relay_only", False)),
    )


def _settings() -> object:
    """The settings file; a file that cannot be used raises ``SettingsError`` (exit 2).

    Never replaced by defaults: a default may be weaker than the file (relay_only,
    the ICE servers, the mailbox), and weakening privacy without a word is worse
    than refusing to start.
    """
    try:
        from p2pchat.store.settings import load_settings
    except ImportError:  # pragma: no cover - the store is part of the package
        return object()
    return load_settings()


def mailbox_from_args(args: argparse.Namespace) -> str:
    from p2pchat.service import default_mailbox_url

    return str(args.mailbox or default_mailbox_url())


def read_code(args: argparse.Namespace) -> str:
    """The code comes from --code, $P2PCHAT_CODE or stdin (never argv by default)."""
    code = getattr(args, "code", None) or os.environ.get("P2PCHAT_CODE")
    if not code:
        if sys.stdin.isatty():
            import getpass

            code = getpass.getpass("Code (typing is hidden): ")
        else:
            code = sys.stdin.readline()
    code = strip_code_label(code or "")
    if not code:
        raise InvalidCode("No code given: set P2PCHAT_CODE or type it on standard input.")
    return code


def strip_code_label(line: str) -> str:
    """``"code: 4-cobra-impetus-cranky"`` (the line ``p2pchat send`` prints) -> the code."""
    line = line.strip()
    label, colon, rest = line.partition(":")
    if colon and label.strip().lower() == "code":
        return rest.strip()
    return line
