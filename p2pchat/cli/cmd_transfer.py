"""`p2pchat send` and `p2pchat receive`: one-shot transfers for people and scripts.

stdout carries data: the code (first line for `send`), received text, saved
file names, what was removed from each image; with --json, one JSON object per
line. Diagnostics go to stderr. Exit codes are those of cli/main.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from p2pchat.cli.main import (
    EXIT_INPUT_REJECTED,
    EXIT_OK,
    EXIT_OUTPUT_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
)
from p2pchat.cli.options import add_network_options, ice_from_args, mailbox_from_args, read_code
from p2pchat.core.errors import P2PChatError
from p2pchat.received_files import SaveFailed, save_received
from p2pchat.timeline import mark

MAX_INPUT_FILE_BYTES = 200 * 1024 * 1024
DELIVERY_TIMEOUT = 600.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    send = subparsers.add_parser(
        "send",
        help="make an invite, wait for the peer, send text and images, exit when delivered",
        description="Make an invite code (printed as the first stdout line), wait for the "
        "peer to join, send the text and images (metadata stripped), and exit 0 once the "
        "peer acknowledged everything.",
    )
    add_network_options(send)
    send.add_argument("--json", action="store_true", help="JSON lines on stdout")
    send.add_argument("--text", action="append", default=[], metavar="MSG", help="a text message")
    send.add_argument(
        "--original", action="store_true", help="keep the original resolution (default: 2048 px)"
    )
    send.add_argument(
        "--view-once", action="store_true", help="send the images as view-once photos"
    )
    send.add_argument("files", nargs="*", metavar="FILE", help="images to send")
    send.set_defaults(func=run_send)

    receive = subparsers.add_parser(
        "receive",
        help="join with a code and save what arrives",
        description="Join with a code read from $P2PCHAT_CODE or standard input, print "
        "received text, save received images into DIR under names p2pchat chooses "
        "(never the sender's), and exit 0 when the sender is done.",
    )
    add_network_options(receive)
    receive.add_argument("--json", action="store_true", help="JSON lines on stdout")
    receive.add_argument("--out", required=True, metavar="DIR", help="folder for received images")
    receive.add_argument(
        "--code",
        help="the code (visible to other local users in the process list: "
        "prefer $P2PCHAT_CODE or standard input)",
    )
    receive.set_defaults(func=run_receive)


class Output:
    """stdout as data: plain lines or JSON lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, event: str, line: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)
        elif line:
            print(line, flush=True)


def _service(args: argparse.Namespace, *, honours_view_once: bool, confirm: bool = False) -> Any:
    from p2pchat.service import ChatService, ServiceConfig

    config = ServiceConfig(
        mailbox_url=mailbox_from_args(args),
        ice=ice_from_args(args),  # type: ignore[arg-type]
        loopback=args.loopback,
        honours_view_once=honours_view_once,
        confirm_images=confirm,
        confirm_texts=confirm,
        warm_image_worker=confirm,  # `receive` gets photos, `send` only sends them
    )
    return ChatService(config)


def run_send(args: argparse.Namespace) -> int:
    if not args.files and not args.text:
        print("p2pchat send: nothing to send (give FILE... and/or --text)", file=sys.stderr)
        return EXIT_USAGE
    blobs: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            size = os.path.getsize(name)
            if size > MAX_INPUT_FILE_BYTES:
                print(f"p2pchat send: {name}: too large ({size} bytes)", file=sys.stderr)
                return EXIT_INPUT_REJECTED
            blobs.append((name, Path(name).read_bytes()))
        except OSError as error:
            print(f"p2pchat send: cannot read {name}: {error.strerror}", file=sys.stderr)
            return EXIT_INPUT_REJECTED
    from p2pchat.cli.quick_exit import finish
    from p2pchat.net.loop import run

    return finish(int(run(_send(args, blobs))))


async def _until_done(command: str, service: Any, session: Coroutine[Any, Any, int]) -> int:
    """Run ``session``; a ``P2PChatError`` becomes a message and its exit code; always close."""
    try:
        return await session
    except P2PChatError as error:
        from p2pchat.cli.main import exit_code_for

        print(f"p2pchat {command}: {error}", file=sys.stderr)
        return exit_code_for(error)
    finally:
        await service.close()


async def _wait_paired(service: Any, out: Output) -> Any:
    paired = await service.wait_paired()
    out.emit(
        "paired",
        f"paired: safety number {paired.safety_number}",
        safety_number=paired.safety_number,
        connection=paired.connection,
    )
    return paired


async def _send(args: argparse.Namespace, blobs: list[tuple[str, bytes]]) -> int:
    out = Output(args.json)
    service = _service(args, honours_view_once=True)
    # The photos are cleaned while the code is made and read out, not before: the
    # code is on the screen a quarter of a second sooner for a 12 MP photo.
    cleaning = [
        (name, asyncio.ensure_future(service.prepare_image(data, original_size=args.original)))
        for name, data in blobs
    ]
    try:
        return await _until_done("send", service, _send_cleaned(args, service, out, cleaning))
    finally:
        for _, job in cleaning:
            job.cancel()
        await asyncio.gather(*(job for _, job in cleaning), return_exceptions=True)


async def _send_cleaned(
    args: argparse.Namespace,
    service: Any,
    out: Output,
    cleaning: list[tuple[str, asyncio.Future[Any]]],
) -> int:
    code = await service.invite()
    out.emit("code", f"code: {code}", code=code)
    print("p2pchat: read this code to the other person; waiting for them", file=sys.stderr)
    prepared = []
    for name, job in cleaning:
        try:
            prepared.append((name, await job))
        except P2PChatError as error:
            print(f"p2pchat send: {name}: {error}", file=sys.stderr)
            return EXIT_INPUT_REJECTED
        mark("sender-cleaned")
    paired = await _wait_paired(service, out)
    for text in args.text:
        await service.send_text(text)
    for name, image in prepared:
        removed = [finding.message for finding in image.report.findings]
        label = os.path.basename(name)
        out.emit(
            "report",
            f"removed from {label}: {image.report.summary() if removed else 'nothing found'}",
            file=label,
            removed=removed,
        )
        if args.view_once and not paired.peer_view_once:
            out.emit(
                "view_once_refused",
                f"not sent: the peer cannot honour view-once ({label})",
                file=label,
            )
            continue
        await service.send_image(image, view_once=args.view_once)
    await _wait_delivered(service, out)
    out.emit("done", "done: everything was delivered")
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
    from p2pchat.received_files import SaveFailed, check_writable

    out_dir = Path(args.out)
    try:
        check_writable(out_dir)
    except SaveFailed as error:
        print(f"p2pchat receive: --out: {error}", file=sys.stderr)
        return EXIT_USAGE
    code = read_code(args)
    from p2pchat.cli.quick_exit import finish
    from p2pchat.net.loop import run

    return finish(int(run(_receive(args, code, out_dir))))


async def _receive(args: argparse.Namespace, code: str, out_dir: Path) -> int:
    # "delivered" means saved: the sender hears about a photo only once it is on disk.
    service = _service(args, honours_view_once=False, confirm=True)
    return await _until_done(
        "receive", service, _receive_all(service, Output(args.json), code, out_dir)
    )


async def _receive_all(service: Any, out: Output, code: str, out_dir: Path) -> int:
    from p2pchat.service import events as ev

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
                    "a view-once photo arrived; it can only be opened in the p2pchat app",
                    message_id=event.message_id,
                )
                continue
            saved += 1
            try:
                path = save_received(out_dir, event.data, event.mime, saved)
            except SaveFailed as error:
                failures += 1
                service.refuse_image(event.message_id)
                print(f"p2pchat receive: a photo was not kept: {error}", file=sys.stderr)
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
            print(f"p2pchat receive: {event.message}", file=sys.stderr)
            return event.exit_code
    return EXIT_PEER_LOST
