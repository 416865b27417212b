"""`p2pchat manual invite|join`: pair with no server at all, by copy-paste, then chat.

First contact: the inviter says the code aloud (never typed into a chat where
the blobs travel) and pastes blobs with the joiner: three in all. A pinned
contact (``--contact PETNAME``) needs no code: two signed blobs.

stdout: ``code: ...`` (inviter, first contact), each blob to pass on as a line
``blob: p2pc1...``, then the conversation as in ``p2pchat chat``. stdin: the
code (joiner, unless ``$P2PCHAT_CODE``; at a terminal it is asked for with a
hidden prompt), the other person's blobs, then messages. stderr says at each
step what to do: which line to send, what to paste. Exit status: 0 ok, 2 usage,
3 wrong code / changed key / blocked, 4 peer lost.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from p2pchat.cli.options import add_network_options, display_name
from p2pchat.core.exit_status import EXIT_USAGE
from p2pchat.i18n import t


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "manual",
        help=t("cli.help.manual_manual"),
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("action", choices=("invite", "join"))
    add_network_options(parser, mailbox=False)  # no server at all: nothing to point at
    parser.add_argument("--contact", metavar="PETNAME", help=t("cli.help.manual_contact"))
    parser.add_argument("--as", dest="pin_as", metavar="NAME", help=t("cli.help.manual_as"))
    parser.add_argument("--replace-key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="", type=display_name, help=t("cli.help.manual_name"))
    parser.set_defaults(func=run_manual)


def run_manual(args: argparse.Namespace) -> int:
    if args.contact and args.pin_as:
        print(t("cli.manual_usage.as_with_contact"), file=sys.stderr)
        return EXIT_USAGE
    args.petname = args.contact
    args.invite = args.action == "invite"
    args.join = not args.invite
    args.wait = 600.0
    args.typed_code = ""
    first_contact = not args.contact
    guide(t("manual.intro_first" if first_contact else "manual.intro_pinned"))
    if first_contact and args.join and not os.environ.get("P2PCHAT_CODE") and sys.stdin.isatty():
        import getpass

        # Read before the chat reads stdin; hidden, as for every other code prompt.
        args.typed_code = getpass.getpass(t("manual.code_prompt"))
    from p2pchat.cli.cmd_chat import _chat
    from p2pchat.service import run_loop as run

    return int(run(_chat(args, pair=lambda *a: _pair(args, *a))))


async def _pair(args: argparse.Namespace, service: Any, expected: Any, commands: Any) -> Any:
    from p2pchat.core.handshake import manual_code
    from p2pchat.service import manual_pairing as manual

    def write(blob: str) -> None:
        guide(t("manual.send_this"))
        print(f"blob: {blob}", flush=True)

    async def read() -> str | None:
        guide(t("manual.paste_theirs"))
        line = await commands.get()
        return None if line is None else line.strip().removeprefix("blob:").strip()

    if expected is not None:
        from p2pchat.service.contact_guard import unlocked

        unlocked(expected)
        drive = manual.invite_pinned if args.invite else manual.join_pinned
        return await drive(service, expected.reconnect_psk, expected.identity_key, write, read)
    if args.invite:
        code = manual_code()
        guide(t("manual.read_code"))
        print(f"code: {code}", flush=True)
        return await manual.invite_first_contact(service, code, write, read)
    code = str(args.typed_code or os.environ.get("P2PCHAT_CODE") or "")
    if not code:
        guide(t("manual.type_code"))
        code = (await commands.get() or "").strip()
    return await manual.join_first_contact(service, code, write, read)


def guide(text: str) -> None:
    """What to do next, on stderr: stdout keeps only the lines to pass on."""
    print(f"p2pchat: {text}", file=sys.stderr, flush=True)
