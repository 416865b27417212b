"""`p2pchat chat`: a line-mode chat with a contact: pair once with a code, then reconnect.

    p2pchat chat --invite [--as NAME]   make a code, pair, pin the peer as a contact
    p2pchat chat --join   [--as NAME]   join with a code ($P2PCHAT_CODE or first stdin line)
    p2pchat chat PETNAME                meet a pinned contact again, no code needed

Uses this install's persistent identity (``p2pchat identity``) so that contacts
can recognise it; ``send`` / ``receive`` / ``headless`` stay ephemeral. After
pairing, each stdin line is a message; commands start with ``/``: ``/export
PATH [--force]``, ``/timer off|30s|5m|1h|1d``, ``/block``, ``/quit``, ``/help``. stdout carries the
conversation (``NAME: text``) and status lines starting with ``* ``; warnings and
errors go to stderr. History lives in memory only: nothing of the conversation
is written anywhere unless ``/export`` is asked for.

Exit status: 0 ok, 2 usage (unknown contact), 3 pairing failed or refused (wrong
code, a changed identity key, a blocked contact), 4 peer lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from p2pchat.cli.options import (
    add_network_options,
    display_name,
    ice_from_args,
    mailbox_from_args,
)
from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text, failure_text, notice_text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat",
        help=t("cli.help.chat_chat"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog=t("cli.help.chat_chat_epilog"),
    )
    add_network_options(parser)
    parser.add_argument("petname", nargs="?", help=t("cli.help.chat_petname"))
    first = parser.add_mutually_exclusive_group()
    first.add_argument("--invite", action="store_true", help=t("cli.help.chat_invite"))
    first.add_argument("--join", action="store_true", help=t("cli.help.chat_join"))
    parser.add_argument("--as", dest="pin_as", metavar="NAME", help=t("cli.help.chat_as"))
    parser.add_argument(
        "--replace-key",
        action="store_true",
        help=t("cli.help.chat_replace_key"),
    )
    parser.add_argument("--name", default="", type=display_name, help=t("cli.help.chat_name"))
    parser.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help=t("cli.help.chat_wait"),
    )
    parser.set_defaults(func=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    if bool(args.petname) == bool(args.invite or args.join):
        print(t("cli.chat.petname_or_code"), file=sys.stderr)
        return EXIT_USAGE
    if args.replace_key and not args.pin_as:
        print(t("cli.chat.replace_needs_as"), file=sys.stderr)
        return EXIT_USAGE
    from p2pchat.service import run_loop as run

    return int(run(_chat(args)))


# How a session pairs: by default through the mailbox; `p2pchat manual` passes copy-paste.
PairStep = Callable[[Any, Any, "asyncio.Queue[str | None]"], Awaitable[Any]]


async def _chat(args: argparse.Namespace, pair: PairStep | None = None) -> int:
    from p2pchat.headless import start_stdin_reader
    from p2pchat.service import ChatService, ServiceConfig
    from p2pchat.service.contacts import Contacts, as_key_changed, blocked_error

    try:
        identity, contacts = Contacts.load()
        expected = None
        if args.petname:
            expected = contacts.get(args.petname)
            if expected is None:
                print(t("cli.chat.no_contact", name=repr(args.petname)), file=sys.stderr)
                return EXIT_USAGE
            if expected.blocked:
                raise blocked_error(expected)
        guard = contacts.guard(petname=args.pin_as, expected=expected, replace_key=args.replace_key)
    except P2PChatError as error:
        print(f"p2pchat chat: {error_text(error)}", file=sys.stderr)
        return error.exit_code
    service = ChatService(
        ServiceConfig(
            mailbox_url=mailbox_from_args(args),
            ice=ice_from_args(args),  # type: ignore[arg-type]
            loopback=args.loopback,
            identity=identity,
            label=args.name,
            peer_check=guard,
            reconnect_wait=args.wait,
        )
    )
    commands = start_stdin_reader(asyncio.get_running_loop())
    try:
        if pair is not None:
            paired = await pair(service, expected, commands)
        elif expected is not None:
            _status(t("cli.chat.waiting", name=expected.petname))
            await service.reconnect_contact(expected)
        elif args.invite:
            code = await service.invite()
            print(f"code: {code}", flush=True)
        else:
            code = os.environ.get("P2PCHAT_CODE") or (await commands.get() or "").strip()
            await service.join(code)
        if pair is None:
            paired = await service.wait_paired()
    except P2PChatError as error:
        shown = as_key_changed(error, expected.petname if expected else "")
        print(f"p2pchat chat: {shown}", file=sys.stderr)
        await service.close()
        return error.exit_code
    contact = guard.contact
    assert contact is not None
    note = t("cli.chat.new_contact") if guard.newly_pinned else t("cli.chat.known_contact")
    if contact.verified:
        note = t("cli.chat.verified", note=note)
    from p2pchat.core.crypto import format_safety_number

    _status(
        t(
            "cli.chat.paired",
            name=contact.petname,
            note=note,
            number=format_safety_number(paired.safety_number),
        )
    )
    return await _converse(service, contacts, contact, commands)


def _status(line: str) -> None:
    print(f"* {line}", flush=True)


async def _converse(service: Any, book: Any, contact: Any, commands: Any) -> int:
    from p2pchat.core.timer import describe_timer
    from p2pchat.service import TimerChanged
    from p2pchat.service import events as ev

    # The service keeps the history (in memory only) and applies the timer to it.
    conversation = service.conversation
    exit_code = EXIT_OK
    petname = contact.petname

    async def pump() -> None:
        nonlocal exit_code
        async for event in service.events():
            if isinstance(event, ev.TextReceived):
                # Continuation lines indented: a message cannot pass for a status line.
                print(f"{petname}: {event.text}".replace("\n", "\n  "), flush=True)
            elif isinstance(event, ev.ImageReceived):
                _status(t("cli.chat.photo", name=petname))
            elif isinstance(event, TimerChanged):
                who = petname if event.by_peer else t("cli.chat.you")
                _status(t("cli.chat.timer", who=who, timer=describe_timer(event.seconds)))
            elif isinstance(event, ev.PeerLeft):
                # A plain goodbye needs no words; a reason the other side gave does.
                plain = event.reason in ("", "The peer left the conversation.")
                _status(
                    t("cli.chat.left", name=petname)
                    if plain
                    else t("cli.chat.left_because", name=petname, reason=event.reason)
                )
            elif isinstance(event, ev.Notice):
                _status(notice_text(event))
            elif isinstance(event, ev.Failed):
                print(f"p2pchat chat: {failure_text(event)}", file=sys.stderr)
                exit_code = event.exit_code

    async def expire() -> None:
        # A line terminal cannot erase what it printed; the messages leave the
        # in-memory history (and so any later /export) and the user is told.
        seen = {message.id for message in conversation.messages()}
        while True:
            await asyncio.sleep(1.0)
            now = {message.id for message in conversation.messages()}
            gone = [mid for mid in seen - now if conversation.is_gone(mid)]
            seen = now
            if gone:
                _status(t("cli.chat.disappeared", count=len(gone)))

    expiring = asyncio.ensure_future(expire())
    pumping = asyncio.ensure_future(pump())
    reading = asyncio.ensure_future(_read_commands(service, book, contact, conversation, commands))
    await asyncio.wait({pumping, reading}, return_when=asyncio.FIRST_COMPLETED)
    reading.cancel()
    expiring.cancel()
    with contextlib.suppress(P2PChatError):
        await service.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(pumping, 5)
    pumping.cancel()
    return exit_code


async def _read_commands(
    service: Any, book: Any, contact: Any, conversation: Any, commands: Any
) -> None:
    from p2pchat.service.export import export_evidence

    while True:
        line = await commands.get()
        if line is None:
            return  # end of input: leave politely
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("/"):
            word, _, rest = line.partition(" ")
            if word == "/quit":
                return
            if word == "/help":
                _status(t("cli.chat.help"))
            elif word == "/timer":
                from p2pchat.core.timer import parse_timer

                try:
                    await service.set_timer(parse_timer(rest))
                except ValueError as error:
                    _status(str(error))
                except P2PChatError as error:
                    _status(t("cli.chat.timer_unchanged", reason=error_text(error)))
            elif word == "/block":
                book.block(contact.petname)
                _status(t("cli.chat.blocked", name=contact.petname))
                return
            elif word == "/export":
                force = rest.rstrip().endswith(" --force") or rest.strip() == "--force"
                path = rest.strip().removesuffix("--force").strip()
                if not path:
                    _status(t("cli.chat.export_usage"))
                    continue
                try:
                    written = export_evidence(
                        conversation,
                        path,
                        me="me",
                        peer=contact.petname,
                        safety_number=service.safety_number or contact.safety_number,
                        overwrite=force,
                    )
                except FileExistsError:
                    _status(t("cli.chat.export_exists", path=path))
                except OSError as error:
                    _status(t("cli.chat.export_failed", path=path, reason=error.strerror))
                else:
                    _status(t("cli.chat.exported", path=written, name=contact.petname))
            else:
                _status(t("cli.chat.unknown_command", word=word))
            continue
        try:
            await service.send_text(line)
        except P2PChatError as error:
            _status(t("cli.chat.not_sent", reason=error_text(error)))
            continue
