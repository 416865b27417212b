"""Options shared by every command that talks to a peer, and the config they build."""

from __future__ import annotations

import argparse
import os
import sys

from p2pchat.core.errors import InvalidCode, InvalidLabel
from p2pchat.core.labels import check_own_label
from p2pchat.i18n import t


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
            help=t("cli.help.options_mailbox"),
        )
    else:
        parser.set_defaults(mailbox=None)
    group.add_argument(
        "--loopback",
        action="store_true",
        help=t("cli.help.options_loopback"),
    )
    group.add_argument(
        "--stun",
        metavar="URL",
        action="append",
        default=None,
        help=t("cli.help.options_stun"),
    )
    group.add_argument(
        "--no-stun",
        action="store_true",
        help=t("cli.help.options_no_stun"),
    )
    group.add_argument(
        "--transit-relay",
        metavar="tcp:HOST:PORT",
        help=t("cli.help.options_transit_relay"),
    )
    group.add_argument(
        "--no-transit",
        action="store_true",
        help=t("cli.help.options_no_transit"),
    )
    group.add_argument("--turn", metavar="URL", help=t("cli.help.options_turn"))
    group.add_argument("--turn-user", metavar="NAME", help=t("cli.help.options_turn_user"))
    group.add_argument(
        "--turn-credential-env",
        metavar="VAR",
        default="P2PCHAT_TURN_CREDENTIAL",
        help=t("cli.help.options_turn_credential_env"),
    )
    group.add_argument(
        "--turn-secret-env",
        metavar="VAR",
        default="P2PCHAT_TURN_SECRET",
        help=t("cli.help.options_turn_secret_env"),
    )
    group.add_argument(
        "--relay-only",
        action="store_true",
        help=t("cli.help.options_relay_only"),
    )


def ice_from_args(args: argparse.Namespace) -> object:
    from p2pchat.service import IceSettings
    from p2pchat.service.profile import DEFAULT_STUN_URLS, DEFAULT_TRANSIT_RELAY

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
    relay_only = bool(args.relay_only or getattr(settings, "relay_only", False))
    if relay_only and not turn and not transit:
        # Checked before any network: otherwise no path ever opens and it ends as "peer lost".
        from p2pchat.core.errors import UsageError

        raise UsageError(t("cli.network.relay_only_no_relay"))
    return IceSettings(
        stun_urls=stun,
        transit_relay=transit or None,
        turn_url=turn,
        turn_username=args.turn_user or getattr(settings, "turn_username", None),
        turn_credential=os.environ.get(args.turn_credential_env)
        or getattr(settings, "turn_credential", None),
        turn_secret=os.environ.get(args.turn_secret_env) or getattr(settings, "turn_secret", None),
        relay_only=relay_only,
    )


def _settings() -> object:
    """The settings file; a file that cannot be used raises ``SettingsError`` (exit 2).

    Never replaced by defaults: a default may be weaker than the file (relay_only,
    the ICE servers, the mailbox), and weakening privacy without a word is worse
    than refusing to start.
    """
    from p2pchat.service.profile import load_settings

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

            code = getpass.getpass(t("cli.prompts.code"))
        else:
            code = sys.stdin.readline()
    code = strip_code_label(code or "")
    if not code:
        raise InvalidCode(t("cli.prompts.no_code"))
    return code


def strip_code_label(line: str) -> str:
    """``"code: 4-cobra-impetus-cranky"`` (the line ``p2pchat send`` prints) -> the code."""
    line = line.strip()
    label, colon, rest = line.partition(":")
    if colon and label.strip().lower() == "code":
        return rest.strip()
    return line


def add_language_option(parser: argparse.ArgumentParser) -> None:
    """``--lang`` on a command; ``main`` reads it before any text is built (see ``language_in``)."""
    from p2pchat.i18n import LANGUAGES

    parser.add_argument("--lang", choices=LANGUAGES, default=None, help=t("cli.lang_help"))


def language_in(argv: list[str]) -> str | None:
    """The ``--lang`` value anywhere on the command line (before ``--``), else None.

    Help texts and messages are built while the parser is, so the language is chosen
    from the raw arguments first; argparse then checks the value as usual.
    """
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def _by_cells(text: str, width: int) -> list[str]:
    # Imported when help is written, not with every command line (i18n/linebreak.py).
    from p2pchat.i18n.linebreak import wrap_cells

    return wrap_cells(text, width)


class CellHelpFormatter(argparse.HelpFormatter):
    """argparse's help wrapped by terminal cells, breaking Japanese between characters.

    argparse wraps with ``textwrap``, which counts characters and breaks only at
    spaces: a Japanese help line came out twice as wide as the terminal.
    """

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _by_cells(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in _by_cells(text, width - len(indent)))


class CellRawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The raw-description formatter (epilog tables kept as written), options by cells."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _by_cells(text, width)


def wrap_help_by_cells(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` the cell-counting formatter of its kind."""
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = CellHelpFormatter
    elif parser.formatter_class is argparse.RawDescriptionHelpFormatter:
        parser.formatter_class = CellRawDescriptionHelpFormatter
