"""`p2pchat send` and `p2pchat receive`: one-shot transfers for people and scripts.

stdout carries data: the code (first line for `send`), received text, saved
file names, what was removed from each image; with --json, one JSON object per
line. Diagnostics go to stderr. Exit codes are those of core/exit_status.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from p2pchat.cli.options import add_network_options, read_code
from p2pchat.cli.transfer_common import Output, transfer_service, until_done, wait_paired
from p2pchat.core.exit_status import (
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
)
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text, failure_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    send = subparsers.add_parser(
        "send",
        help=t("cli.help.transfer_send"),
        description=t("cli.help.transfer_send_description"),
    )
    add_network_options(send)
    send.add_argument("--json", action="store_true", help=t("cli.help.transfer_json"))
    send.add_argument(
        "--text", action="append", default=[], metavar="MSG", help=t("cli.help.transfer_text")
    )
    send.add_argument("--original", action="store_true", help=t("cli.help.transfer_original"))
    send.add_argument("--view-once", action="store_true", help=t("cli.help.transfer_view_once"))
    send.add_argument("files", nargs="*", metavar="FILE", help=t("cli.help.transfer_files"))
    send.set_defaults(func=run_send)

    receive = subparsers.add_parser(
        "receive",
        help=t("cli.help.transfer_receive"),
        description=t("cli.help.transfer_receive_description"),
    )
    add_network_options(receive)
    receive.add_argument("--json", action="store_true", help=t("cli.help.transfer_json"))
    receive.add_argument("--out", required=True, metavar="DIR", help=t("cli.help.transfer_out"))
    receive.add_argument(
        "--code",
        help=t("cli.help.transfer_code"),
    )
    receive.set_defaults(func=run_receive)
    for parser in (send, receive):
        parser.add_argument("--no-lan", action="store_true", help=t("cli.help.transfer_no_lan"))


def run_send(args: argparse.Namespace) -> int:
    from p2pchat.cli.transfer_send import run_send as run

    return run(args)


def run_receive(args: argparse.Namespace) -> int:
    from p2pchat.cli import quick_exit

    # Until the service is built (_receive): its imports are most of the CPU before pairing.
    quick_exit.pause_collector()
    try:
        from p2pchat.service.photos import SaveFailed, check_writable

        out_dir = Path(args.out)
        try:
            check_writable(out_dir)
        except SaveFailed as error:
            print(t("cli.transfer.bad_out", reason=error_text(error)), file=sys.stderr)
            return EXIT_USAGE
        code = read_code(args)
        from p2pchat.service import run_loop as run

        return quick_exit.finish(int(run(_receive(args, code, out_dir))))
    finally:
        quick_exit.resume_collector()  # when it ended before the service was built


async def _receive(args: argparse.Namespace, code: str, out_dir: Path) -> int:
    from p2pchat.cli.quick_exit import resume_collector

    # "delivered" means saved: the sender hears about a photo only once it is on disk.
    try:
        service = transfer_service(args, honours_view_once=False, confirm=True)
    finally:
        resume_collector()
    return await until_done(
        "receive", service, _receive_all(service, Output(args.json), code, out_dir)
    )


async def _receive_all(service: Any, out: Output, code: str, out_dir: Path) -> int:
    from p2pchat.service import events as ev
    from p2pchat.service.photos import SaveFailed, save_received

    saved = 0
    failures = 0
    await service.join(code)
    await wait_paired(service, out)
    async for event in service.events():
        if isinstance(event, ev.TextReceived):
            out.emit("text", f"text: {event.text}", message_id=event.message_id, text=event.text)
            service.acknowledge(event.message_id)  # printed: now it is delivered
        elif isinstance(event, ev.ImageReceived):
            if event.view_once or not event.data:
                out.emit(
                    "view_once",
                    t("cli.transfer.view_once_arrived"),
                    message_id=event.message_id,
                )
                continue
            saved += 1
            try:
                path = save_received(out_dir, event.data, event.mime, saved)
            except SaveFailed as error:
                failures += 1
                service.refuse_image(event.message_id)
                print(t("cli.transfer.not_kept", reason=error_text(error)), file=sys.stderr)
                out.emit(
                    "error",
                    "",
                    message_id=event.message_id,
                    message=f"not kept: {error}",
                    exit_code=EXIT_OUTPUT_FAILED,
                )
                continue
            service.acknowledge(event.message_id)
            out.emit(
                "image",
                f"image: {path}",
                message_id=event.message_id,
                path=str(path),
                width=event.width,
                height=event.height,
            )
        elif isinstance(event, ev.ImageRejected):
            out.emit(
                "rejected",
                f"rejected: {event.reason}",
                message_id=event.message_id,
                reason=event.reason,
            )
        elif isinstance(event, ev.TransferProgress) and out.as_json:
            pass
        elif isinstance(event, ev.PeerLeft):
            return EXIT_OUTPUT_FAILED if failures else EXIT_OK
        elif isinstance(event, ev.Failed):
            print(f"p2pchat receive: {failure_text(event)}", file=sys.stderr)
            return event.exit_code
    return EXIT_PEER_LOST
