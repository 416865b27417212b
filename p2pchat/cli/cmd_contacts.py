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

from p2pchat.cli.options import add_language_option
from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE
from p2pchat.i18n import t
from p2pchat.i18n.error_words import error_text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "contacts",
        help=t("cli.contacts.help"),
        description=t("cli.contacts.description"),
        epilog=t("cli.contacts.epilog"),
    )
    parser.add_argument("--json", action="store_true", help=t("cli.contacts.json_help"))
    parser.set_defaults(func=run_list)
    actions = parser.add_subparsers(dest="contacts_action", metavar="ACTION")

    rename = actions.add_parser("rename", help=t("cli.contacts.rename_help"))
    add_language_option(rename)
    rename.add_argument("petname")
    rename.add_argument("new_petname")
    rename.set_defaults(func=run_rename)

    for name, help_text, func in (
        ("remove", t("cli.contacts.remove_help"), run_remove),
        ("block", t("cli.contacts.block_help"), run_block),
        ("unblock", t("cli.contacts.unblock_help"), run_unblock),
    ):
        action = actions.add_parser(name, help=help_text)
        add_language_option(action)
        action.add_argument("petname")
        action.set_defaults(func=func)

    verify = actions.add_parser(
        "verify",
        help=t("cli.contacts.verify_help"),
        description=t("cli.contacts.verify_description"),
    )
    add_language_option(verify)
    verify.add_argument("petname")
    verify.add_argument("--yes", action="store_true", help=t("cli.contacts.yes_help"))
    verify.add_argument("--undo", action="store_true", help=t("cli.contacts.undo_help"))
    verify.set_defaults(func=run_verify)


def _guarded(args: argparse.Namespace, body: Any) -> int:
    from p2pchat.service.contacts import ContactError, ContactNotFound, Contacts

    try:
        return int(body(Contacts(), args))
    except ContactNotFound:
        name = repr(getattr(args, "petname", ""))
        print(f"p2pchat: {t('cli.contacts.not_found', name=name)}", file=sys.stderr)
        return EXIT_USAGE
    except ContactError as error:
        print(f"p2pchat: {error_text(error)}", file=sys.stderr)
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
        print(t("cli.contacts.none"), file=sys.stderr)
        return EXIT_OK
    width = max(len(c.petname) for c in contacts)
    for c in contacts:
        flags = t("cli.contacts.separator").join(
            t(f"cli.contacts.{flag}")
            for flag, on in (("verified", c.verified), ("blocked", c.blocked))
            if on
        )
        seen = t(
            "cli.contacts.last_seen",
            when=time.strftime("%Y-%m-%d %H:%M", time.localtime(c.last_seen)),
        )
        print(f"{c.petname:<{width}}  {c.fingerprint}  {seen}  {flags}".rstrip())
    return EXIT_OK


def _book_change(
    change: Callable[[Any, argparse.Namespace], Any], done: str
) -> Callable[[argparse.Namespace], int]:
    """A subcommand that applies ``change`` to the book and reports ``done 'petname'``."""

    def body(book: Any, args: argparse.Namespace) -> int:
        contact = change(book, args)
        print(t(f"cli.contacts.done_{done}", name=repr(contact.petname)), file=sys.stderr)
        return EXIT_OK

    def run(args: argparse.Namespace) -> int:
        return _guarded(args, body)

    return run


run_rename = _book_change(lambda book, args: book.rename(args.petname, args.new_petname), "renamed")
run_remove = _book_change(lambda book, args: book.forget(args.petname), "removed")
run_block = _book_change(lambda book, args: book.block(args.petname), "blocked")
run_unblock = _book_change(lambda book, args: book.unblock(args.petname), "unblocked")


def run_verify(args: argparse.Namespace) -> int:
    def body(book: Any, args: argparse.Namespace) -> int:
        from p2pchat.core.crypto import format_safety_number

        contact = book.require(args.petname)
        if args.undo:
            book.verify(contact.petname, False)
            print(t("cli.contacts.unverified", name=repr(contact.petname)), file=sys.stderr)
            return EXIT_OK
        print(format_safety_number(contact.safety_number))
        if not args.yes:
            if not sys.stdin.isatty():
                print(t("cli.contacts.compare_then_yes"), file=sys.stderr)
                return EXIT_USAGE
            sys.stderr.write(t("cli.contacts.ask", name=repr(contact.petname)) + " ")
            sys.stderr.flush()
            if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
                print(t("cli.contacts.not_marked"), file=sys.stderr)
                return EXIT_OK
        book.verify(contact.petname, True)
        print(t("cli.contacts.now_verified", name=repr(contact.petname)), file=sys.stderr)
        return EXIT_OK

    return _guarded(args, body)
