"""What the benchmarks share: percentiles, the noise photo they send, local ports.

A module of its own so that bench.py, bench_two_process.py and bench_tui.py import it
instead of each other (bench.py imports bench_two_process, which used to import
these back from bench.py: an import circle).
"""

from __future__ import annotations

import io
import os
import socket
import sys
import time
from pathlib import Path

#: The venv's bin folder: wormhole, twist and p2pchat are run from it.
VENV_BIN = Path(sys.executable).parent


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def noise_png(megabytes: float, *, megabyte: int = 1024 * 1024) -> bytes:
    """An RGBA noise PNG of about ``megabytes`` (of ``megabyte`` bytes each).

    Noise does not compress, and the alpha channel keeps it a PNG through the
    sanitiser (an RGB photo would be re-encoded as a much smaller JPEG), so about
    that many bytes really cross the link.
    """
    from PIL import Image

    side = int((megabytes * megabyte / 4) ** 0.5)
    image = Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
