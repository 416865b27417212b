"""The magic-wormhole anchor: `wormhole send` / `receive` through a local mailbox
server and transit relay (both on 127.0.0.1), timed on the same bytes as p2pchat.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench_common import VENV_BIN, free_port, wait_port


def wormhole_transfer(megabytes: float) -> dict[str, float] | None:
    """`wormhole send` / `receive` of the same size through local mailbox + transit relay."""
    twist = VENV_BIN / "twist"
    wormhole = VENV_BIN / "wormhole"
    if not twist.exists() or not wormhole.exists():
        return None
    mailbox_port, relay_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        servers = [
            subprocess.Popen(
                [str(twist), "wormhole-mailbox", f"--port=tcp:{mailbox_port}:interface=127.0.0.1"],
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [str(twist), "transitrelay", f"--port=tcp:{relay_port}:interface=127.0.0.1"],
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            for port in (mailbox_port, relay_port):
                wait_port(port)
            payload = work / "payload.bin"
            payload.write_bytes(os.urandom(int(megabytes * 1024 * 1024)))
            out = work / "out"
            out.mkdir()
            common = [
                f"--relay-url=ws://127.0.0.1:{mailbox_port}/v1",
                f"--transit-helper=tcp:127.0.0.1:{relay_port}",
            ]
            code = "4-purple-sausages"
            started = time.perf_counter()
            sender = subprocess.Popen(
                [
                    str(wormhole),
                    *common,
                    "send",
                    "--no-listen",
                    "--hide-progress",
                    "--code",
                    code,
                    str(payload),
                ],
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            receiver = subprocess.run(
                [
                    str(wormhole),
                    *common,
                    "receive",
                    "--no-listen",
                    "--hide-progress",
                    "--accept-file",
                    "-o",
                    str(out / "payload.bin"),
                    code,
                ],
                cwd=work,
                capture_output=True,
                timeout=300,
                check=False,
            )
            total = time.perf_counter() - started
            sender.wait(60)
            if receiver.returncode != 0:
                return None
            size = (out / "payload.bin").stat().st_size
            return {"seconds": total, "mb_per_s": size / total / 1e6}
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(10)
