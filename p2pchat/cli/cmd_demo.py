"""`p2pchat demo [--lang en|ja] [--check]`: the classroom privacy lesson on one machine.

Starts the two-pane demo app (Alice and Bob, real ChatServices paired through
an embedded mailbox on 127.0.0.1). ``--check`` runs every lesson step
headlessly through the same app and prints one line per step; it exits 0 only
if every step's claim held (for CI and for a first check on a fresh machine).
Textual is imported only when the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from p2pchat.core.exit_status import EXIT_FAILURE, EXIT_OK
from p2pchat.i18n import set_language, t


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=t("cli.help.demo_demo"),
        description=(t("cli.help.demo_demo_description")),
    )
    parser.add_argument("--lang", choices=("en", "ja"), default=None, help=t("cli.lang_help"))
    parser.add_argument(
        "--check",
        action="store_true",
        help=t("cli.help.demo_check"),
    )
    parser.add_argument(
        "--images", choices=("auto", "halfcell"), default="auto", help=t("cli.renderer_help")
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The language must be set before the app's modules build their key labels.
    language = set_language(args.lang)
    if args.check:
        import asyncio

        from p2pchat.tui.demo.demo_app import run_check

        def emit(line: str) -> None:
            print(line, flush=True)

        return asyncio.run(run_check(language, emit=emit))

    from p2pchat.tui.demo.demo_app import make_demo_app
    from p2pchat.tui.widgets.image_view import load_image_support

    # textual-image asks the terminal about graphics before Textual takes it over.
    renderer = load_image_support(args.images)
    result = make_demo_app(language, renderer=renderer).run()
    if result is None:
        return EXIT_OK
    return int(result) if isinstance(result, int) else EXIT_FAILURE
