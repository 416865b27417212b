"""Phase marks for the door-to-door timeline of ``scripts/bench_door.py``.

Off unless ``P2PCHAT_TIMELINE`` is set in the environment; then ``mark(phase)``
writes one line ``p2pchat-timeline PHASE SECONDS`` to stderr, SECONDS being
``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process of the
machine, so the bench can line up the sender's and the receiver's marks).
Phase names are fixed words: never a code, a name or anything the peer sent.
"""

from __future__ import annotations

import os
import sys
import time

_ENABLED = bool(os.environ.get("P2PCHAT_TIMELINE"))


def mark(phase: str) -> None:
    """Note that ``phase`` was reached now (nothing at all when the timeline is off)."""
    if _ENABLED:
        print(f"p2pchat-timeline {phase} {time.monotonic():.6f}", file=sys.stderr, flush=True)
