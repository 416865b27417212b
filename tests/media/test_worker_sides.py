"""A receiving worker loads only the wire's formats; any worker still cleans what it is given.

The receiver's spare worker starts while pairing, beside the WebRTC stack's import:
it loads Pillow's common plugins and MPO, not every format plugin and HEIF (a third
of its start). A worker started for one side and asked for the other loads what it
is missing (code only: the sandbox lets it read code) instead of refusing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from p2pchat.media import worker
from p2pchat.media.budget import WorkerBudget
from p2pchat.media.policy import SanitizePolicy
from p2pchat.media.sandbox import child_environment
from p2pchat.media.worker import ImageWorker
from tests.photos import photo

ROOT = str(Path(__file__).resolve().parents[2])
SEND_ONLY = ("pillow_heif", "PIL.WebPImagePlugin", "PIL.PsdImagePlugin", "PIL.BlpImagePlugin")
PROBE = (
    "import sys; sys.path.insert(0, sys.argv[1])\n"
    "from p2pchat.media.worker_child import prepare\n"
    "prepare(sys.argv[2])\n"
    f"print(sorted(m for m in {SEND_ONLY!r} if m in sys.modules))\n"
)


def _loaded_after_prepare(side: str) -> str:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, ROOT, side],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_receiving_worker_prepares_only_the_wire_formats() -> None:
    assert _loaded_after_prepare("receive") == "[]"
    assert _loaded_after_prepare("send") != "[]"  # the probe sees plugins when they load


async def test_a_receiving_worker_keeps_the_first_frame_of_an_mpo() -> None:
    mpo = photo("panasonic-lx7-mpo-second-frame.jpg").read_bytes()
    child = await ImageWorker.prewarm(WorkerBudget().reserve(), WorkerBudget())
    assert child is not None
    clean = await child.run(mpo, SanitizePolicy(max_long_edge=640, side="receive"))
    assert "kept the first frame only" in clean.report.notes


async def test_a_worker_started_for_receiving_still_cleans_a_heic_to_send(monkeypatch) -> None:
    started: list[str] = []
    real = asyncio.create_subprocess_exec

    async def spawn(*argv: str, **options: object) -> asyncio.subprocess.Process:
        started.append(argv[-1])
        return await real(*argv, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(worker.asyncio, "create_subprocess_exec", spawn)
    budget = WorkerBudget()
    child = await ImageWorker.prewarm(budget.reserve(), budget)
    assert child is not None and started == ["receive"]
    heic = photo("iphone13promax.heic").read_bytes()
    clean = await child.run(heic, SanitizePolicy(max_long_edge=640, side="send"))
    assert clean.mime == "image/jpeg" and max(clean.width, clean.height) == 640
