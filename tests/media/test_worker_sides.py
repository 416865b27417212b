"""Workers preload only Pillow's common plugins; any worker still cleans what it is given.

The receiver's spare worker starts while pairing, beside the WebRTC stack's import,
and the sender's while it cleans the photo: neither imports all forty plugins first
(the receiver not HEIF either). A rarer format's plugin is read (code only: what the
sandbox allows) when a file needs it; a worker started for one side and asked for
the other loads what it is missing instead of refusing.
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


def test_a_confined_worker_still_reads_every_format_it_did_not_preload() -> None:
    """Only the common plugins load before the sandbox: a WebP, TIFF or AVIF file makes
    the confined child read Pillow's other plugins (code), and it is cleaned as before."""
    import io

    from PIL import Image, features

    from p2pchat.media.worker import sanitize_isolated

    formats = ["WEBP", "TIFF", "GIF", "BMP", "PNG", "JPEG"] + (
        ["AVIF"] if features.check("avif") else []
    )
    for name in formats:
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format=name)
        clean = sanitize_isolated(buffer.getvalue(), SanitizePolicy(max_long_edge=20))
        assert (clean.mime, clean.width, clean.height) == ("image/jpeg", 20, 15), name
    heic = sanitize_isolated(photo("iphone13promax.heic").read_bytes(), SanitizePolicy())
    assert heic.mime == "image/jpeg"
