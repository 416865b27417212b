"""The `p2pchat` entry point: argparse, exit codes, and discovery of subcommands.

Each subcommand lives in a module ``p2pchat/cli/cmd_<name>.py`` exposing
``register(subparsers) -> None``; the parser it adds sets ``func`` (a callable
taking the parsed namespace and returning an exit code). Modules import their
heavy dependencies inside ``func`` so that ``p2pchat --help`` stays fast.

stdout carries data (codes, JSON lines, received text); stderr carries
diagnostics. Exit codes are documented in the README and in EXIT_CODES.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Sequence
from typing import Final

from p2pchat import __version__
from p2pchat.cli import quick_exit
from p2pchat.cli.options import add_language_option, language_in, wrap_help_by_cells
from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_CODES, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from p2pchat.i18n import set_language, t
from p2pchat.i18n.error_words import error_text


def _epilog() -> str:
    # EXIT_CODES holds the numbers (and the English for docs); the words are the catalogue's.
    lines = [t("cli.exit_codes.title")]
    lines += [f"  {code:<4}{t(f'cli.exit_codes.{code}')}" for code in EXIT_CODES]
    return "\n".join(lines)


# Which module adds each subcommand (tests/test_cli_commands.py checks it against what the
# modules register): `p2pchat send ...` imports and builds only its own module's parser,
# not the other nine with their imports and a few hundred translated help lines.
COMMAND_MODULES: Final = {
    "chat": "cmd_chat",
    "contacts": "cmd_contacts",
    "demo": "cmd_demo",
    "headless": "cmd_headless",
    "identity": "cmd_identity",
    "inspect": "cmd_image",
    "sanitize": "cmd_image",
    "mailbox": "cmd_mailbox",
    "manual": "cmd_manual",
    "send": "cmd_transfer",
    "receive": "cmd_transfer",
    "home": "cmd_tui",
    "invite": "cmd_tui",
    "join": "cmd_tui",
}


def command_modules() -> list[str]:
    """Every ``cmd_*`` module of the package, by name (none imported)."""
    import pkgutil  # only for the main help: a known subcommand needs just its module

    import p2pchat.cli as cli_package

    names = (info.name for info in pkgutil.iter_modules(cli_package.__path__))
    return sorted(name for name in names if name.startswith("cmd_"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only the module that adds that subcommand.

    The main help (``p2pchat --help``, an unknown command) needs every module; a known
    subcommand's parsing, help and errors need only its own.
    """
    parser = argparse.ArgumentParser(
        prog="p2pchat",
        description=t("cli.help.main_program_description"),
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"p2pchat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    only = COMMAND_MODULES.get(command or "")
    for name in [only] if only else command_modules():
        importlib.import_module(f"p2pchat.cli.{name}").register(subparsers)
    for each in [parser, *subparsers.choices.values()]:
        wrap_help_by_cells(each)
        if each is not parser:
            # Every command takes --lang (main reads it before the parser is built).
            with contextlib.suppress(argparse.ArgumentError):
                add_language_option(each)
    return parser


def _choose_language(argv: list[str]) -> None:
    """--lang, else the locale: before the parser is built, since its help is translated."""
    try:
        set_language(language_in(argv))
    except ValueError:
        set_language(None)  # argparse refuses the bad value with its list of choices


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the process's entry point: one-shot commands may end it early
        quick_exit.enable()
        quick_exit.pause_collector()  # until the command line is built (quick_exit.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    _choose_language(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        # Bare `p2pchat [--mailbox URL --lang ja ...]` is the app's home screen.
        argv = ["home", *argv]
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    quick_exit.resume_collector()  # a command pauses it again for its own imports if it may
    func = getattr(args, "func", None)
    if func is None:
        default = getattr(args, "default_func", None)
        if default is None:
            # No subcommand: the TUI home screen, when it is installed.
            try:
                from p2pchat.cli.cmd_tui import run_home
            except ImportError:
                parser.print_help(sys.stderr)
                return EXIT_USAGE
            return int(run_home(args))
        func = default
    try:
        return int(func(args))
    except KeyboardInterrupt:
        print(t("cli.common.interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `p2pchat inspect x.jpg | head`: the reader left; that is not an error of ours.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except P2PChatError as error:
        print(f"p2pchat: {error_text(error)}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
