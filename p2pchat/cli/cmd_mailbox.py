"""`p2pchat mailbox`: run the embedded mailbox (rendezvous) server in the foreground.

The first stdout line is the URL clients use (``ws://HOST:PORT/v1``), flushed at
once so scripts can read it; diagnostics go to stderr. Ctrl-C or SIGTERM stops
the server cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mailbox",
        help="run a mailbox (rendezvous) server for invites on this machine or LAN",
        description=(
            "Run the embedded magic-wormhole-compatible mailbox server. Prints its URL "
            "(ws://HOST:PORT/v1) as the first line; give it to both people with "
            "--mailbox URL or P2PCHAT_MAILBOX. It relays only encrypted pairing messages."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; use 0.0.0.0 to serve your LAN)",
    )
    parser.add_argument(
        "--port", type=_port, default=4000, help="TCP port (default 4000; 0 picks a free one)"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="simultaneous connections (default 4096; a pairing holds two for its lifetime)",
    )
    parser.set_defaults(func=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return port


def run(args: argparse.Namespace) -> int:
    import asyncio

    from p2pchat.core.errors import TransportError

    try:
        asyncio.run(_serve(args.host, args.port, args.max_connections))
    except OSError as error:
        raise TransportError(
            f"Cannot listen on {args.host}:{args.port} ({error.strerror or error}). "
            "Choose another --port (0 picks a free one) or --host."
        ) from error
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(host: str, port: int, max_connections: int | None = None) -> None:
    import asyncio
    import contextlib
    import dataclasses
    import signal
    import sys

    from p2pchat.net.mailbox_rendezvous import ServerLimits
    from p2pchat.net.mailbox_server import MailboxServer

    limits = ServerLimits()
    if max_connections is not None:
        limits = dataclasses.replace(limits, max_connections=max(1, max_connections))
    server = MailboxServer(host=host, port=port, limits=limits)
    url = await server.start()
    print(url, flush=True)
    print(
        f"p2pchat: mailbox server running; use --mailbox {url} (Ctrl-C stops it)",
        file=sys.stderr,
        flush=True,
    )
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
        print("p2pchat: mailbox server stopped", file=sys.stderr, flush=True)
