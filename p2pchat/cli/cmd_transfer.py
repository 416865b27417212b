"""`p2pchat send` and `p2pchat receive`: one-shot transfers for people and scripts.

stdout carries data: the code (first line for `send`), received text, saved
file names, what was removed from each image; with --json, one JSON object per
line. Diagnostics go to stderr. Exit codes are those of core/exit_status.py.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p2pchat.cli.options import add_network_options, ice_from_args, mailbox_from_args, read_code
from p2pchat.core.errors import ImageRejected, P2PChatError
from p2pchat.core.exit_status import (
    EXIT_INPUT_REJECTED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
)
from p2pchat.core.timeline import mark
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text, failure_text

if TYPE_CHECKING:
    from p2pchat.service.api import ChatSession
    from p2pchat.service.config import ServiceConfig
    from p2pchat.service.head_start import OpenedInvite

DELIVERY_TIMEOUT = 600.0


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


class Output:
    """stdout as data: plain lines or JSON lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, event: str, line: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)
        elif line:
            print(line, flush=True)


def _config(
    args: argparse.Namespace, *, honours_view_once: bool, confirm: bool = False
) -> ServiceConfig:
    from p2pchat.service.config import ServiceConfig

    return ServiceConfig(
        mailbox_url=mailbox_from_args(args),
        ice=ice_from_args(args),  # type: ignore[arg-type]
        loopback=args.loopback,
        honours_view_once=honours_view_once,
        confirm_images=confirm,
        confirm_texts=confirm,
        warm_image_worker=confirm,  # `receive` gets photos, `send` only sends them
        direct_tcp=not (args.no_lan or args.relay_only),  # service/direct_race.py
    )


def _service(
    args: argparse.Namespace, *, honours_view_once: bool, confirm: bool = False
) -> ChatSession:
    from p2pchat.service import open_session

    return open_session(_config(args, honours_view_once=honours_view_once, confirm=confirm))


def run_send(args: argparse.Namespace) -> int:
    if not args.files and not args.text:
        print(t("cli.transfer.nothing_to_send"), file=sys.stderr)
        return EXIT_USAGE
    # Only what shows the code is imported before it (service/head_start.py).
    from p2pchat.service.photo_file import read_photo

    blobs: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            # Read up front (the service's reader and limit): a bad file fails before pairing.
            blobs.append((name, read_photo(name)))
        except ImageRejected as error:
            print(f"p2pchat send: {error_text(error)}", file=sys.stderr)
            return error.exit_code
    from p2pchat.cli.quick_exit import finish
    from p2pchat.service import run_loop as run

    return finish(int(run(_send(args, blobs))))


async def _until_done(command: str, service: Any, session: Coroutine[Any, Any, int]) -> int:
    """Run ``session``; a ``P2PChatError`` becomes a message and its exit code; always close."""
    try:
        return await session
    except P2PChatError as error:
        print(f"p2pchat {command}: {error_text(error)}", file=sys.stderr)
        return error.exit_code
    finally:
        await service.close()


async def _wait_paired(service: Any, out: Output) -> Any:
    paired = await service.wait_paired()
    out.emit(
        "paired",
        t("cli.transfer.paired", number=paired.safety_number),
        safety_number=paired.safety_number,
        connection=paired.connection,
    )
    if paired.connection == "lan":
        print(t("cli.transfer.paired_lan"), file=sys.stderr)
    return paired


async def _send(args: argparse.Namespace, blobs: list[tuple[str, bytes]]) -> int:
    from p2pchat.service import head_start

    out = Output(args.json)
    config = _config(args, honours_view_once=True)
    # Each photo is cleaned in its own worker from now on, on the other core, while the
    # mailbox is reached and the code read out: it is ready about when the peer pairs.
    policy = head_start.sending_policy(config, args.original)
    cleaning: list[tuple[str, asyncio.Future[Any]]] = [
        (name, await head_start.start_cleaning(data, policy)) for name, data in blobs
    ]
    if cleaning:
        mark("sender-cleaning-started")
    for _, job in cleaning:
        job.add_done_callback(_note_cleaned)
    try:
        try:
            opened = await head_start.invite_ahead(config)
        except P2PChatError as error:
            print(f"p2pchat send: {error_text(error)}", file=sys.stderr)
            return error.exit_code
        out.emit("code", f"code: {opened.code}", code=opened.code)
        print(t("cli.transfer.read_code"), file=sys.stderr)
        service = await _open_after_code(config, opened)
        return await _until_done(
            "send", service, _send_cleaned(args, service, out, cleaning, opened)
        )
    finally:
        for _, job in cleaning:
            job.cancel()
        await asyncio.gather(*(job for _, job in cleaning), return_exceptions=True)


def _note_cleaned(job: asyncio.Future[Any]) -> None:
    # When the worker answered, not when send got round to looking (the timeline's point).
    if not job.cancelled() and job.exception() is None:
        mark("sender-cleaned")


async def _open_after_code(config: ServiceConfig, opened: OpenedInvite) -> ChatSession:
    """The service, its stack imported off the event loop once the code is on the screen.

    The import takes a CPU for a while; in a thread, the loop meanwhile keeps feeding the
    photos to their workers and answering the mailbox.
    """
    from p2pchat.service import open_session

    try:
        await asyncio.to_thread(importlib.import_module, "p2pchat.service.chat_service")
        mark("service-loaded")
        return open_session(config)
    except BaseException:
        await opened.mailbox.close()
        raise


async def _send_cleaned(
    args: argparse.Namespace,
    service: Any,
    out: Output,
    cleaning: list[tuple[str, asyncio.Future[Any]]],
    opened: OpenedInvite,
) -> int:
    await service.invite(opened)
    prepared = []
    for name, job in cleaning:
        try:
            prepared.append((name, await job))
        except P2PChatError as error:
            print(f"p2pchat send: {name}: {error_text(error)}", file=sys.stderr)
            return EXIT_INPUT_REJECTED
    paired = await _wait_paired(service, out)
    for text in args.text:
        await service.send_text(text)
    for name, image in prepared:
        removed = [finding.message for finding in image.report.findings]
        label = os.path.basename(name)
        out.emit(
            "report",
            t(
                "cli.transfer.removed_from",
                name=label,
                summary=image.report.summary() if removed else t("cli.transfer.nothing_found"),
            ),
            file=label,
            removed=removed,
        )
        if args.view_once and not paired.peer_view_once:
            out.emit(
                "view_once_refused",
                t("cli.transfer.view_once_refused", name=label),
                file=label,
            )
            continue
        await service.send_image(image, view_once=args.view_once)
    await _wait_delivered(service, out)
    out.emit("done", t("cli.transfer.done"))
    return EXIT_OK


async def _wait_delivered(service: Any, out: Output) -> None:
    """Relay progress while waiting for the peer's acks."""
    from p2pchat.service import events as ev

    waiter = asyncio.ensure_future(service.wait_delivered(DELIVERY_TIMEOUT))
    last_progress = 0.0
    try:
        while not waiter.done():
            getter = asyncio.ensure_future(service.next_event())
            done, _ = await asyncio.wait({waiter, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            event = getter.result()
            if isinstance(event, ev.TransferProgress) and out.as_json:
                now = time.monotonic()
                if now - last_progress > 0.2 or event.done_bytes == event.total_bytes:
                    last_progress = now
                    fields = ev.event_to_json(event)
                    out.emit(fields.pop("event"), "", **fields)
            elif isinstance(event, ev.Failed | ev.PeerLeft):
                break
        await waiter
    finally:
        waiter.cancel()


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
        service = _service(args, honours_view_once=False, confirm=True)
    finally:
        resume_collector()
    return await _until_done(
        "receive", service, _receive_all(service, Output(args.json), code, out_dir)
    )


async def _receive_all(service: Any, out: Output, code: str, out_dir: Path) -> int:
    from p2pchat.service import events as ev
    from p2pchat.service.photos import SaveFailed, save_received

    saved = 0
    failures = 0
    await service.join(code)
    await _wait_paired(service, out)
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
