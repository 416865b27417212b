"""The command line of scripts/relay: its options, and running one relay until a side
leaves or a signal stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal

from chatrelay.bridge import Relay
from chatrelay.sides import CLOSE_TIMEOUT, CODE_ENV, DEFAULT_LABEL, private_spool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="relay",
        description="Bridge two p2pchat users through this machine. Each pairs with the "
        "relay (label 'p2pchat relay'), never with each other. Photos are re-encoded, "
        "view-once items are never forwarded, nothing is kept on disk.",
        epilog="exit status: 0 a side left or the relay was stopped; 2 usage; "
        "3 a side could not pair; 4 a side was lost",
    )
    parser.add_argument(
        "--invite-both",
        action="store_true",
        help="make two invites and print 'a: CODE' and 'b: CODE' on stdout; without it, "
        "join the codes in $P2PCHAT_CODE_A and $P2PCHAT_CODE_B",
    )
    parser.add_argument(
        "--one-way",
        choices=("a-to-b",),
        help="pass on only what side a sends (e.g. students -> projector); "
        "side b's messages are dropped and b is told",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=10 * 1024 * 1024,
        metavar="N",
        help="largest message or re-encoded photo passed on, in bytes (default %(default)s); "
        "larger ones are refused with a notice to the sender",
    )
    parser.add_argument(
        "--close-timeout",
        type=float,
        default=CLOSE_TIMEOUT,
        metavar="SECONDS",
        help="once the conversation is over, how long each side gets to say goodbye and "
        "exit before it is killed (default %(default)s)",
    )
    parser.add_argument(
        "--label", default=DEFAULT_LABEL, help="the name both people see (default %(default)r)"
    )
    network = parser.add_argument_group("network (passed to both p2pchat headless processes)")
    network.add_argument("--mailbox", metavar="URL", help="rendezvous (mailbox) server")
    network.add_argument("--loopback", action="store_true", help="offer only 127.0.0.1")
    network.add_argument("--stun", metavar="URL", action="append", help="STUN server")
    network.add_argument("--no-stun", action="store_true", help="use no STUN server")
    network.add_argument(
        "--transit-relay", metavar="tcp:HOST:PORT", help="transit relay when no direct path opens"
    )
    network.add_argument("--no-transit", action="store_true", help="never use a transit relay")
    network.add_argument("--turn", metavar="URL", help="TURN relay (turn:HOST:PORT?transport=udp)")
    network.add_argument("--turn-user", metavar="NAME", help="TURN username")
    network.add_argument(
        "--turn-credential-env",
        metavar="VAR",
        default="P2PCHAT_TURN_CREDENTIAL",
        help="variable holding the TURN password (default %(default)s)",
    )
    network.add_argument(
        "--turn-secret-env",
        metavar="VAR",
        default="P2PCHAT_TURN_SECRET",
        help="variable holding coturn's REST shared secret (default %(default)s)",
    )
    network.add_argument(
        "--relay-only", action="store_true", help="use only TURN-relayed paths (hide IPs)"
    )
    args = parser.parse_args(argv)
    if args.max_bytes < 1:
        parser.error("--max-bytes must be a positive number of bytes")
    if not 0 < args.close_timeout <= 3600:
        parser.error("--close-timeout must be between 0 and 3600 seconds")
    if not args.invite_both:
        missing = [var for var in CODE_ENV.values() if not os.environ.get(var, "").strip()]
        if missing:
            parser.error(f"set {' and '.join(missing)} to the codes to join, or use --invite-both")
    return args


async def main_async(args: argparse.Namespace) -> int:
    spool = private_spool()
    relay = Relay(args, spool)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, relay.stop)
    try:
        return await relay.run()
    finally:
        for side in relay.sides.values():
            if side.process.returncode is None:
                side.kill()
                await side.process.wait()
        shutil.rmtree(spool, ignore_errors=True)


def main() -> int:
    args = parse_args()
    return asyncio.run(main_async(args))
