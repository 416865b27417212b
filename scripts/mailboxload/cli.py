"""The command line of scripts/mailbox-load: starts the server, runs the load and the
abuse against it, and says whether every limit held."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mailboxload
from mailboxload.abuse import ABUSE_KINDS, abuser, nameplate_flood
from mailboxload.clients import Stats, pairing

ROOT = Path(__file__).resolve().parents[2]
MAX_PAIRINGS = 1000


# ------------------------------------------------------------------------ server


# The same server with some global limits changed (given as JSON), to reach them
# with fewer sockets: `p2pchat mailbox` has flags only for what operators tune.
_CUSTOM_SERVER = """
import asyncio, json, sys
from p2pchat.net.mailbox_server import MailboxServer, ServerLimits

async def main():
    server = MailboxServer(limits=ServerLimits(**json.loads(sys.argv[1])))
    print(await server.start(), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def start_server(python: str, overrides: dict[str, int]) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2PCHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    if not overrides:
        command = [python, "-m", "p2pchat", "mailbox", "--host", "127.0.0.1", "--port", "0"]
    else:
        command = [python, "-c", _CUSTOM_SERVER, json.dumps(overrides)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        url = proc.stdout.readline().strip() if selector.select(timeout=30) else ""
    if not url.startswith("ws://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"mailbox-load: the server did not start (got {url!r})")
    return proc, url


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -------------------------------------------------------------------------- main


async def run(args: argparse.Namespace, url: str, pid: int) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    stats = Stats()
    baseline = memory_kib(pid)
    started = time.monotonic()
    deadline = started + args.deadline
    jobs = [
        pairing(url, stats, deadline, args.pair_timeout, number) for number in range(args.pairings)
    ]
    jobs += [
        abuser(kind, url, port, stats, args.abuse_timeout, number)
        for number, kind in enumerate(kind for kind in ABUSE_KINDS for _ in range(args.abusers))
    ]
    random.shuffle(jobs)
    async with asyncio.timeout(args.deadline + args.pair_timeout + 30):
        await asyncio.gather(*jobs)
    elapsed = time.monotonic() - started
    flood = await nameplate_flood(url, args.flood_sockets, args.abuse_timeout)
    # Still serving after all that: one more clean pairing must work.
    after = Stats()
    await pairing(url, after, time.monotonic() + 20, 20, number=2)
    memory = memory_kib(pid)
    done = len(stats.pairing_seconds)
    return {
        "pairings": args.pairings,
        "succeeded": done,
        "success_rate": done / args.pairings if args.pairings else 1.0,
        "failures": stats.failures,
        "refused_retries": stats.refused_retries,
        "p50_ms": round(percentile(stats.pairing_seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(stats.pairing_seconds, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(stats.pairing_seconds) * 1000, 1) if done else None,
        "wall_seconds": round(elapsed, 1),
        "abuse": stats.abuse,
        "nameplate_flood": flood,
        "server_rss_start_mib": round(baseline.get("VmRSS", 0) / 1024, 1),
        "server_rss_end_mib": round(memory.get("VmRSS", 0) / 1024, 1),
        "server_peak_rss_mib": round(memory.get("VmHWM", 0) / 1024, 1),
        "serving_after_load": len(after.pairing_seconds) == 1,
        "server": f"MailboxServer({server_overrides(args)})"
        if server_overrides(args)
        else "p2pchat mailbox (default limits)",
    }


def verdict(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    broken = []
    if report["success_rate"] < args.min_success:
        broken.append(f"success rate {report['success_rate']:.3f} < {args.min_success}")
    survivors = {k: v["SURVIVED"] for k, v in report["abuse"].items() if v.get("SURVIVED")}
    if survivors:
        broken.append(f"abusive clients not cut off: {survivors}")
    flood = report["nameplate_flood"]
    if not flood["pairing_during"]:
        broken.append(f"no pairing during the nameplate flood ({flood['failure_during']})")
    if not flood["pairing_after"]:
        broken.append(f"no pairing right after the nameplate flood ({flood['failure_after']})")
    if report["server_peak_rss_mib"] > args.max_rss_mb:
        broken.append(f"server peak RSS {report['server_peak_rss_mib']} MiB > {args.max_rss_mb}")
    if not report["serving_after_load"]:
        broken.append("the server no longer completes a pairing after the load")
    if not report["server_alive"]:
        broken.append("the server process died")
    return broken


def server_overrides(args: argparse.Namespace) -> dict[str, int]:
    overrides = {}
    if args.max_connections is not None:
        overrides["max_connections"] = args.max_connections
    if args.max_nameplates is not None:
        overrides["max_nameplates"] = overrides["max_mailboxes"] = args.max_nameplates
    return overrides


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mailbox-load",
        description=mailboxload.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", "--pairings", type=int, default=200, help="concurrent pairings")
    parser.add_argument("--abusers", type=int, default=10, help="abusive clients of each kind")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds to keep retrying")
    parser.add_argument("--pair-timeout", type=float, default=60.0, help="seconds per pairing")
    parser.add_argument("--abuse-timeout", type=float, default=15.0, help="cut-off bound (s)")
    parser.add_argument("--min-success", type=float, default=0.99)
    parser.add_argument("--max-rss-mb", type=float, default=200.0, help="server peak RSS bound")
    parser.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="run the embedded server with this connection limit instead of `p2pchat "
        "mailbox` with its defaults (4096), to see what the limit costs",
    )
    parser.add_argument(
        "--max-nameplates",
        type=int,
        metavar="N",
        help="run the embedded server with this many nameplates and mailboxes (default "
        "2048), so that a smaller --flood-sockets reaches the server-wide limit",
    )
    parser.add_argument(
        "--flood-sockets",
        type=int,
        default=2100,
        metavar="N",
        help="sockets of the one-address nameplate flood (default 2100, the audit's)",
    )
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.pairings <= MAX_PAIRINGS or not 0 <= args.abusers <= 100:
        parser.error(f"--pairings is 1..{MAX_PAIRINGS}, --abusers 0..100")
    if not 0 <= args.flood_sockets <= 10_000:
        parser.error("--flood-sockets is 0..10000")
    raise_fd_limit(4 * args.pairings + 5 * args.abusers + 2 * args.flood_sockets + 256)
    proc, url = start_server(args.python, server_overrides(args))
    try:
        report = asyncio.run(run(args, url, proc.pid))
        report["server_alive"] = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    broken = verdict(report, args)
    report["limits_held"] = not broken
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        print(
            f"pairings: {report['succeeded']}/{report['pairings']} "
            f"({report['success_rate']:.1%}) in {report['wall_seconds']} s; "
            f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms; "
            f"{report['refused_retries']} retries after 'too busy'"
        )
        if report["failures"]:
            print(f"failures: {report['failures']}")
        for kind, outcomes in sorted(report["abuse"].items()):
            print(f"abuse {kind}: {outcomes}")
        flood = report["nameplate_flood"]
        print(
            f"nameplate flood from one address: {flood['sockets']} sockets, "
            f"{flood['refused_at_door']} refused at the door, "
            f"{flood['nameplates_taken']} nameplates taken, refused: "
            f"{flood['refused_allocations']}; a pairing from elsewhere during it: "
            f"{'ok' if flood['pairing_during'] else 'FAILED'}, right after it: "
            f"{'ok' if flood['pairing_after'] else 'FAILED'}"
        )
        print(
            f"server RSS: start {report['server_rss_start_mib']} MiB, "
            f"peak {report['server_peak_rss_mib']} MiB, end {report['server_rss_end_mib']} MiB; "
            f"serving after load: {report['serving_after_load']}"
        )
        print("limits held" if not broken else "LIMITS BROKEN: " + "; ".join(broken))
    return 0 if not broken else 1
