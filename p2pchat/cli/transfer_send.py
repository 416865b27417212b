"""`p2pchat send`: show a code, clean the photos meanwhile, send, tell what was removed.

``cmd_transfer`` registers it; what `send` and `receive` share is in ``transfer_common``.
Only what shows the code is imported before it (``service/head_start.py``). Each
photo's picture check follows its clean copy in the same worker and is told the
moment it is known, apart from what was removed; it never holds the photo back
(``docs/content-xray.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from p2pchat.cli.transfer_common import (
    DELIVERY_TIMEOUT,
    Output,
    transfer_config,
    until_done,
    wait_paired,
)
from p2pchat.core.errors import ImageRejected, P2PChatError
from p2pchat.core.exit_status import EXIT_INPUT_REJECTED, EXIT_OK, EXIT_USAGE
from p2pchat.core.timeline import mark
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text

if TYPE_CHECKING:
    from p2pchat.service.api import ChatSession
    from p2pchat.service.config import ServiceConfig
    from p2pchat.service.head_start import OpenedInvite


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


async def _send(args: argparse.Namespace, blobs: list[tuple[str, bytes]]) -> int:
    from p2pchat.service import head_start

    out = Output(args.json)
    config = transfer_config(args, honours_view_once=True)
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
        for name, job in cleaning:  # after the code: it stays the first line
            job.add_done_callback(functools.partial(_on_cleaned, out, os.path.basename(name)))
        service = await _open_after_code(config, opened)
        status = await until_done(
            "send", service, _send_cleaned(args, service, out, cleaning, opened)
        )
        if status == EXIT_OK:
            # Every photo's check says its piece before "done", once the session is closed:
            # the other person does not wait for it (each is bounded by its worker's timeout).
            await asyncio.gather(
                *[job.result().check for _, job in cleaning], return_exceptions=True
            )
            out.emit("done", t("cli.transfer.done"))
        return status
    finally:
        checks = [job.result().check for _, job in cleaning if _succeeded(job)]
        for job in [job for _, job in cleaning] + checks:
            job.cancel()
        await asyncio.gather(*(job for _, job in cleaning), *checks, return_exceptions=True)


def _succeeded(job: asyncio.Future[Any]) -> bool:
    return job.done() and not job.cancelled() and job.exception() is None


def _note_cleaned(job: asyncio.Future[Any]) -> None:
    # When the worker answered, not when send got round to looking (the timeline's point).
    if _succeeded(job):
        mark("sender-cleaned")


def _on_cleaned(out: Output, label: str, job: asyncio.Future[Any]) -> None:
    if _succeeded(job):
        job.result().check.add_done_callback(functools.partial(_tell_picture, out, label))


def _tell_picture(out: Output, label: str, check: asyncio.Future[Any]) -> None:
    """The picture check's findings, said the moment they are known: while the other
    person types the code, that is in time to stop before anything is sent."""
    if check.cancelled():
        return
    error = check.exception()
    if error is not None:
        reason = error_text(error) if isinstance(error, P2PChatError) else type(error).__name__
        print(t("cli.transfer.picture_unchecked", name=label, reason=reason), file=sys.stderr)
        return
    report = check.result()
    shown = [finding.message for finding in report.findings]
    if shown or out.as_json:
        out.emit(
            "picture",
            t("cli.transfer.picture_shows", name=label, summary=report.summary()) if shown else "",
            file=label,
            picture=shown,
        )


async def _open_after_code(config: ServiceConfig, opened: OpenedInvite) -> ChatSession:
    """The service, its stack imported off the event loop once the code is on the screen.

    The import takes a CPU for a while; in a thread, the loop meanwhile keeps feeding the
    photos to their workers and answering the mailbox.
    """
    from p2pchat.cli import quick_exit
    from p2pchat.service import open_session

    # As receive does (cli/quick_exit.py): no cyclic GC passes over the stack as it loads;
    # the loop's own work meanwhile is a few mailbox frames, nothing that builds cycles.
    quick_exit.pause_collector()
    try:
        await asyncio.to_thread(importlib.import_module, "p2pchat.service.chat_service")
        mark("service-loaded")
        return open_session(config)
    except BaseException:
        await opened.mailbox.close()
        raise
    finally:
        quick_exit.resume_collector()


async def _send_cleaned(
    args: argparse.Namespace,
    service: Any,
    out: Output,
    cleaning: list[tuple[str, asyncio.Future[Any]]],
    opened: OpenedInvite,
) -> int:
    from p2pchat.media.policy import CONTENT_CATEGORIES

    await service.invite(opened)
    prepared = []
    for name, job in cleaning:
        try:
            prepared.append((name, (await job).image))
        except P2PChatError as error:
            print(f"p2pchat send: {name}: {error_text(error)}", file=sys.stderr)
            return EXIT_INPUT_REJECTED
    paired = await wait_paired(service, out)
    for text in args.text:
        await service.send_text(text)
    for name, image in prepared:
        removed = [
            finding.message
            for finding in image.report.findings
            if finding.category not in CONTENT_CATEGORIES
        ]
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
