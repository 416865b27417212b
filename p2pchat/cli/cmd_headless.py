"""`p2pchat headless`: the JSON-lines interface (see p2pchat/headless/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from p2pchat.cli.options import (
    add_network_options,
    display_name,
    ice_from_args,
    mailbox_from_args,
)
from p2pchat.core.exit_status import EXIT_USAGE
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "headless",
        help=t("cli.help.headless_headless"),
        description=t("cli.help.headless_headless_description"),
    )
    add_network_options(parser)
    role = parser.add_mutually_exclusive_group(required=True)
    role.add_argument("--invite", action="store_true", help=t("cli.help.headless_invite"))
    role.add_argument("--join", action="store_true", help=t("cli.help.headless_join"))
    parser.add_argument("--save-dir", metavar="DIR", help=t("cli.help.headless_save_dir"))
    parser.add_argument("--label", default="", type=display_name, help=t("cli.help.headless_label"))
    parser.set_defaults(func=run_headless)


def run_headless(args: argparse.Namespace) -> int:
    from p2pchat.service.photos import SaveFailed, check_writable

    save_dir = Path(args.save_dir) if args.save_dir else None
    if save_dir is not None:
        try:
            check_writable(save_dir)
        except SaveFailed as error:
            print(t("cli.headless.bad_save_dir", reason=error_text(error)), file=sys.stderr)
            return EXIT_USAGE
    from p2pchat.service import run_loop as run

    return int(run(_headless(args, save_dir)))


async def _headless(args: argparse.Namespace, save_dir: Path | None) -> int:
    import asyncio
    import json
    import os

    from p2pchat.core.errors import P2PChatError
    from p2pchat.headless import HeadlessSession, JsonLinesWriter, start_stdin_reader
    from p2pchat.service import ServiceConfig, open_session

    out = JsonLinesWriter(sys.stdout)
    commands = start_stdin_reader(asyncio.get_running_loop())
    service = open_session(
        ServiceConfig(
            mailbox_url=mailbox_from_args(args),
            ice=ice_from_args(args),  # type: ignore[arg-type]
            loopback=args.loopback,
            honours_view_once=False,
            label=args.label,
            # With a save folder, "delivered" means saved: a photo is acked once kept.
            confirm_images=save_dir is not None,
            # A text is acked once written: a closed stdout leaves it unconfirmed.
            confirm_texts=True,
            # What arrives is printed; a script that runs for days keeps no history.
            keep_history=False,
            # send_image may come at any time: a worker with the picture check waits for it.
            warm_send_worker=True,
        )
    )
    session = HeadlessSession(service, out, save_dir)
    try:
        if args.invite:
            await service.invite()  # the `code` event is written by the event pump
        else:
            code = os.environ.get("P2PCHAT_CODE")
            if not code:
                line = await commands.get()
                code = (line or "").strip()
                if code.startswith("{"):
                    try:
                        code = str(json.loads(code).get("code", ""))
                    except (json.JSONDecodeError, AttributeError, RecursionError):
                        code = ""
            await service.join(code)
    except P2PChatError as error:
        out.write("error", message=str(error), fatal=True, exit_code=error.exit_code)
        await service.close()
        return error.exit_code
    return await session.run(commands)
