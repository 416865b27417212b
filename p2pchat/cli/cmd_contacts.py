"""`p2pchat contacts`: list pinned contacts; rename, remove, block, unblock, verify them.

stdout carries the list (a table, or a JSON array with ``--json``); messages go
to stderr. Identity keys are shown only as fingerprints and reconnect secrets
never. An unknown petname is a usage error (2); an unreadable contacts file
exits with 5 and is left untouched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "contacts",
        help="list and manage pinned contacts",
        description="List the contacts pinned after pairing, or change one of them.",
        epilog="exit status: 0 ok, 2 unknown contact or bad name, 5 unreadable contacts file",
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="contacts_action", metavar="ACTION")

    rename = actions.add_parser("rename", help="give a contact another petname")
    rename.add_argument("petname")
    rename.add_argument("new_petname")
    rename.set_defaults(func=run_rename)

    for name, help_text, func in (
        ("remove", "forget a contact (its pinned key and reconnect secret)", run_remove),
        ("block", "refuse a contact from now on", run_block),
        ("unblock", "accept a blocked contact again", run_unblock),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("petname")
        action.set_defaults(func=func)

    verify = actions.add_parser(
        "verify",
        help="mark a contact verified after comparing the safety number",
        description=(
            "Show the safety number you share with a contact. Read it to each other "
            "(in person or on a call); if it matches, the contact is marked verified."
        ),
    )
    verify.add_argument("petname")
    verify.add_argument(
        "--yes", action="store_true", help="the numbers matched: mark verified without asking"
    )
    verify.add_argument("--undo", action="store_true", help="mark the contact unverified")
    verify.set_defaults(func=run_verify)


def _guarded(args: argparse.Namespace, body: Any) -> int:
    from p2pchat.service.contacts import ContactError, Contacts

    try:
        return int(body(Contacts(), args))
    except ContactError as error:
        print(f"p2pchat: {error}", file=sys.stderr)
        return error.exit_code


def run_list(args: argparse.Namespace) -> int:
    return _guarded(args, _list)


def _list(book: Any, args: argparse.Namespace) -> int:
    contacts = book.list()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "petname": c.petname,
                        "fingerprint": c.fingerprint,
                        "safety_number": c.safety_number,
                        "verified": c.verified,
                        "blocked": c.blocked,
                        "first_seen": c.first_seen,
                        "last_seen": c.last_seen,
                    }
                    for c in contacts
                ],
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    if not contacts:
        print("p2pchat: no contacts yet; they are added when you pair.", file=sys.stderr)
        return EXIT_OK
    width = max(len(c.petname) for c in contacts)
    for c in contacts:
        flags = ", ".join(
            flag for flag, on in (("verified", c.verified), ("blocked", c.blocked)) if on
        )
        seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.last_seen))
        print(f"{c.petname:<{width}}  {c.fingerprint}  last seen {seen}  {flags}".rstrip())
    return EXIT_OK


def _book_change(
    change: Callable[[Any, argparse.Namespace], Any], done: str
) -> Callable[[argparse.Namespace], int]:
    """A subcommand that applies ``change`` to the book and reports ``done 'petname'``."""

    def body(book: Any, args: argparse.Namespace) -> int:
        contact = change(book, args)
        print(f"p2pchat: {done} {contact.petname!r}", file=sys.stderr)
        return EXIT_OK

    def run(args: argparse.Namespace) -> int:
        return _guarded(args, body)

    return run


run_rename = _book_change(
    lambda book, args: book.rename(args.petname, args.new_petname), "renamed to"
)
run_remove = _book_change(lambda book, args: book.forget(args.petname), "removed")
run_block = _book_change(lambda book, args: book.block(args.petname), "blocked")
run_unblock = _book_change(lambda book, args: book.unblock(args.petname), "unblocked")


def run_verify(args: argparse.Namespace) -> int:
    def body(book: Any, args: argparse.Namespace) -> int:
        from p2pchat.core.crypto import format_safety_number

        contact = book.require(args.petname)
        if args.undo:
            book.verify(contact.petname, False)
            print(f"p2pchat: {contact.petname!r} is no longer verified", file=sys.stderr)
            return EXIT_OK
        print(format_safety_number(contact.safety_number))
        if not args.yes:
            if not sys.stdin.isatty():
                print(
                    "p2pchat: compare this number with the one your contact sees, then "
                    "re-run with --yes to mark them verified.",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            sys.stderr.write(f"Does {contact.petname!r} see exactly this number? [y/N] ")
            sys.stderr.flush()
            if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
                print("p2pchat: not marked verified.", file=sys.stderr)
                return EXIT_OK
        book.verify(contact.petname, True)
        print(f"p2pchat: {contact.petname!r} is now verified", file=sys.stderr)
        return EXIT_OK

    return _guarded(args, body)
