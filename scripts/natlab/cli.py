"""The command line of scripts/nat-lab: checks what the lab needs, builds it, runs the
chosen scenarios, prints one line (or JSON) each and removes the lab whatever happens."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from lossy_link import LinkSpec

import natlab
from natlab.base import (
    DEFAULT_IMAGE,
    EXIT_FAILED,
    EXIT_MISSING_TOOLS,
    EXIT_NO_NAMESPACES,
    EXIT_OK,
    NAMESPACE_STEM,
    SCENARIOS,
    Interrupted,
    LabError,
    log,
    remove_namespace,
    run,
)
from natlab.defaults import (
    DEFAULT_SCENARIOS,
    make_photo,
    remove_hosts_files,
    run_default_scenario,
    start_default_servers,
)
from natlab.lab import Lab
from natlab.scenarios import Outcome, run_scenario


def preflight(args: argparse.Namespace) -> tuple[int, str]:
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    turnserver = shutil.which("turnserver") or ""
    if not turnserver:
        missing.append("turnserver")
    if args.netem and shutil.which("tc") is None:
        missing.append("tc")
    if missing:
        packages = {"ip": "iproute2", "tc": "iproute2", "nft": "nftables", "turnserver": "coturn"}
        needed = sorted({packages[t] for t in missing})
        return EXIT_MISSING_TOOLS, (
            f"missing {', '.join(missing)}; install with: apt-get install -y {' '.join(needed)}"
        )
    if os.geteuid() != 0:
        return EXIT_NO_NAMESPACES, "network namespaces need root (run with sudo)"
    probe = f"{NAMESPACE_STEM}-probe-{os.getpid()}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return EXIT_NO_NAMESPACES, (
            f"network namespaces are not permitted here ({result.stderr.strip()}); "
            "a container needs CAP_SYS_ADMIN and CAP_NET_ADMIN"
        )
    run("ip", "netns", "del", probe, check=False)
    return EXIT_OK, turnserver


def cleanup_leftovers() -> int:
    names = [line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()]
    stale = [n for n in names if n.startswith(f"{NAMESPACE_STEM}-")]
    for namespace in stale:
        remove_namespace(namespace)
    remove_hosts_files(NAMESPACE_STEM)
    log(f"removed {len(stale)} leftover lab namespace(s)")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nat-lab",
        description=natlab.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario", choices=[*SCENARIOS, *DEFAULT_SCENARIOS, "defaults", "all"], default="all"
    )
    parser.add_argument(
        "--netem", metavar="SPEC", help='impair the NAT links, e.g. "loss 5%% delay 100ms"'
    )
    parser.add_argument(
        "--link", metavar="SPEC", type=link_spec,
        help='a lossy link between a and its NAT (no netem needed), each direction, e.g. '
        '"loss 5%% delay 50ms jitter 5ms rate 8mbit queue 100"',
    )  # fmt: skip
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="image to send")
    parser.add_argument("--no-image", action="store_true", help="send text only")
    parser.add_argument("--python", default=sys.executable, help="Python with p2pchat installed")
    parser.add_argument("--json", action="store_true", help="JSON lines on stdout")
    parser.add_argument("--keep", action="store_true", help="leave the lab up (debugging)")
    parser.add_argument(
        "--logs", type=Path, metavar="DIR", help="copy coturn's log and the peers' config here"
    )
    parser.add_argument(
        "--cleanup", action="store_true", help="remove leftover lab namespaces and exit"
    )
    args = parser.parse_args(argv)

    status, detail = preflight(args)
    if status != EXIT_OK:
        log(detail)
        return status
    turnserver = detail
    if args.cleanup:
        return cleanup_leftovers()
    image = None if args.no_image or not args.image.is_file() else args.image.resolve()

    def interrupted(signum: int, _frame: object) -> None:
        raise Interrupted(signal.Signals(signum).name)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)

    everything = [*SCENARIOS, *DEFAULT_SCENARIOS]
    groups = {"all": everything, "defaults": list(DEFAULT_SCENARIOS)}
    scenarios = groups.get(args.scenario, [args.scenario])
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="p2pchat-nat-lab-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        lab = Lab(prefix=f"{NAMESPACE_STEM}-{os.getpid()}", workdir=workdir, netem=args.netem)
        lab.link = args.link
        try:
            lab.build()
            lab.start_coturn(turnserver)
            lab.start_mailbox(args.python)
            photo = None
            if any(name in DEFAULT_SCENARIOS for name in scenarios):
                start_default_servers(lab, args.python)
                photo = make_photo(workdir / "photo-5mb.png")
            for note in lab.netem_notes:
                log(note)
            for name in scenarios:
                outcome: Outcome
                if name in DEFAULT_SCENARIOS:
                    assert photo is not None
                    outcome = run_default_scenario(lab, name, args.python, photo)
                else:
                    outcome = run_scenario(lab, name, args.python, image)
                outcomes.append(outcome)
                if args.json:
                    print(json.dumps({**outcome.__dict__, "passed": outcome.passed}), flush=True)
                else:
                    print(outcome.line(), flush=True)
        except LabError as error:
            log(f"lab setup failed: {error}")
            return EXIT_FAILED
        except Interrupted as signame:
            log(f"interrupted ({signame}); removing the lab")
            return EXIT_FAILED
        finally:
            if args.logs:
                shutil.copytree(workdir, args.logs, dirs_exist_ok=True)
            if args.keep:
                lab.stop_processes()
                log(f"lab kept: namespaces {', '.join(lab.namespaces)}")
            else:
                lab.destroy()
                remove_hosts_files(lab.prefix)
    passed = sum(o.passed for o in outcomes)
    summary = f"{passed}/{len(outcomes)} scenarios as expected"
    if args.netem:
        summary += f" under netem {args.netem!r}"
    if args.link:
        summary += f" over link '{args.link}'"
    if not args.json:
        print(summary, flush=True)
    return EXIT_OK if passed == len(outcomes) else EXIT_FAILED


def link_spec(text: str) -> LinkSpec:
    try:
        return LinkSpec.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
