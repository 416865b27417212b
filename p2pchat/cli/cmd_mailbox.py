"""`p2pchat mailbox`: run the embedded mailbox (rendezvous) server in the foreground.

The first stdout line is the URL clients use (``ws://HOST:PORT/v1``), flushed at
once so scripts can read it; diagnostics go to stderr, among them the operator
log (``--log-level``: connections, nameplates in use, refusals and their reasons,
once a minute and on change; never codes, bodies, sides or addresses). Ctrl-C or
SIGTERM stops the server cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from p2pchat.i18n import t

if TYPE_CHECKING:
    from p2pchat.net.mailbox_rendezvous import ServerLimits


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mailbox",
        help=t("cli.help.mailbox_mailbox"),
        description=(t("cli.help.mailbox_mailbox_description")),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=t("cli.help.mailbox_host"),
    )
    parser.add_argument("--port", type=_port, default=4000, help=t("cli.help.mailbox_port"))
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help=t("cli.help.mailbox_max_connections"),
    )
    parser.add_argument(
        "--max-per-client",
        type=_positive,
        default=None,
        metavar="N",
        help=t("cli.help.mailbox_max_per_client"),
    )
    parser.add_argument(
        "--allow-list",
        action="store_true",
        help=t("cli.help.mailbox_allow_list"),
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help=t("cli.help.mailbox_log_level"),
    )
    parser.set_defaults(func=run)


LOG_LEVELS = ("debug", "info", "warning", "error")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(t("cli.mailbox.positive"))
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(t("cli.mailbox.port"))
    return port


def run(args: argparse.Namespace) -> int:
    import asyncio

    from p2pchat.core.errors import TransportError

    _configure_log(args.log_level)
    try:
        asyncio.run(_serve(args))
    except OSError as error:
        raise TransportError(
            t(
                "cli.mailbox.cannot_listen",
                host=args.host,
                port=args.port,
                reason=error.strerror or error,
            )
        ) from error
    except KeyboardInterrupt:
        pass
    return 0


def _configure_log(level: str) -> None:
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("p2pchat mailbox: %(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    )
    logger = logging.getLogger("p2pchat")  # this process runs only the server
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def _limits(args: argparse.Namespace) -> ServerLimits:
    import dataclasses

    from p2pchat.net.mailbox_rendezvous import ServerLimits

    limits = ServerLimits(allow_list=args.allow_list)
    if args.max_connections is not None:
        limits = dataclasses.replace(limits, max_connections=max(1, args.max_connections))
    if args.max_per_client is not None:
        limits = dataclasses.replace(
            limits,
            max_nameplates_per_client=args.max_per_client,
            max_mailboxes_per_client=args.max_per_client,
            max_connections_per_client=4 * args.max_per_client,
        )
    return limits


async def _serve(args: argparse.Namespace) -> None:
    import asyncio
    import contextlib
    import signal
    import sys

    from p2pchat.net.mailbox_server import MailboxServer

    server = MailboxServer(host=args.host, port=args.port, limits=_limits(args))
    url = await server.start()
    print(url, flush=True)
    print(t("cli.mailbox.running", url=url), file=sys.stderr, flush=True)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # No loop signal handlers on Windows: Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop_requested.set)
    try:
        await stop_requested.wait()
    finally:
        await server.stop()
        print(t("cli.mailbox.stopped"), file=sys.stderr, flush=True)
