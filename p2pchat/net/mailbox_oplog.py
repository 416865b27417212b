"""The mailbox server's operator log: counts and refusals, never who or what.

``OperatorLog`` writes one status line (connections, client addresses, nameplates
and mailboxes in use, and the refusals since the previous line with their
reasons) once a minute, and sooner when something changed (at most one line per
``gap`` seconds, so that a flood makes one line, not thousands). It reads only
counters: codes, nameplates, mailbox ids, sides, bodies and addresses never reach
it, so they cannot reach the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# Its own logger, silent unless `p2pchat mailbox` gives it a handler: an embedded
# server (the demo, a test) must not print refusals over someone's screen.
OPERATOR_LOG = logging.getLogger("p2pchat.mailbox.operator")
OPERATOR_LOG.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Snapshot:
    """What the server holds right now (numbers only)."""

    connections: int
    clients: int
    nameplates: int
    mailboxes: int


def _plural(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


class OperatorLog:
    """Periodic status lines for whoever runs ``p2pchat mailbox``."""

    def __init__(
        self,
        read: Callable[[], Snapshot],
        refusals: Counter[str],
        logger: logging.Logger = OPERATOR_LOG,
        *,
        every: float = 60.0,
        gap: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._refusals = refusals
        self._log = logger
        self._every = every
        self._gap = gap
        self._clock = clock
        self._last: Snapshot | None = None
        self._last_at = float("-inf")

    def line(self, snapshot: Snapshot, refusals: Counter[str]) -> str:
        text = (
            f"mailbox status: {_plural(snapshot.connections, 'connection')} from "
            f"{_plural(snapshot.clients, 'address', 'addresses')}, "
            f"{_plural(snapshot.nameplates, 'nameplate')} and "
            f"{_plural(snapshot.mailboxes, 'mailbox', 'mailboxes')} in use"
        )
        if refusals:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in refusals.most_common())
            text += f"; refused since the last report: {sum(refusals.values())} ({reasons})"
        return text

    def maybe_report(self) -> bool:
        """Write a line if the minute is up, or if something changed and ``gap`` passed."""
        now = self._clock()
        snapshot = self._read()
        changed = snapshot != self._last or bool(self._refusals)
        due = now - self._last_at >= self._every
        if not due and not (changed and now - self._last_at >= self._gap):
            return False
        refusals = Counter(self._refusals)
        self._refusals.clear()
        level = logging.WARNING if refusals else logging.INFO
        self._log.log(level, "%s", self.line(snapshot, refusals))
        self._last, self._last_at = snapshot, now
        return True

    async def run(self, tick: float = 1.0) -> None:
        while True:
            self.maybe_report()
            await asyncio.sleep(min(tick, self._gap))
