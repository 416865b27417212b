"""What `p2pchat send` and `p2pchat receive` share: stdout as data, the service's
settings for a one-shot transfer, running a session to its end, and telling "paired"."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from p2pchat.cli.options import ice_from_args, mailbox_from_args
from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text

if TYPE_CHECKING:
    from p2pchat.service.api import ChatSession
    from p2pchat.service.config import ServiceConfig

DELIVERY_TIMEOUT = 600.0


class Output:
    """stdout as data: plain lines or JSON lines."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def emit(self, event: str, line: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": event, **fields}, ensure_ascii=False), flush=True)
        elif line:
            print(line, flush=True)


def transfer_config(
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


def transfer_service(
    args: argparse.Namespace, *, honours_view_once: bool, confirm: bool = False
) -> ChatSession:
    from p2pchat.service import open_session

    return open_session(transfer_config(args, honours_view_once=honours_view_once, confirm=confirm))


async def until_done(command: str, service: Any, session: Coroutine[Any, Any, int]) -> int:
    """Run ``session``; a ``P2PChatError`` becomes a message and its exit code; always close."""
    try:
        return await session
    except P2PChatError as error:
        print(f"p2pchat {command}: {error_text(error)}", file=sys.stderr)
        return error.exit_code
    finally:
        await service.close()


async def wait_paired(service: Any, out: Output) -> Any:
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
