"""What RtcLink reads from aiortc's private state, because aiortc has no public API for it.

Both answers are best effort: with another aiortc version whose internals moved,
the kind is "unknown" and SCTP counts as idle.
"""

from __future__ import annotations

from typing import Any

from p2pchat.net.link import ConnectionKind


def nominated_kind(pc: Any) -> ConnectionKind:
    """``"relay"`` when the nominated ICE pair goes through TURN, ``"direct"`` when not,
    ``"unknown"`` before ICE has nominated a pair (or after close)."""
    sctp = pc.sctp
    if sctp is None:
        return "unknown"
    # aiortc exposes no selected pair; aioice's Connection keeps the nominated one.
    connection = getattr(sctp.transport.transport, "_connection", None)
    nominated = getattr(connection, "_nominated", None)
    if not isinstance(nominated, dict) or not nominated:
        return "unknown"
    pair = nominated.get(1) or next(iter(nominated.values()))
    try:
        types = {pair.local_candidate.type, pair.remote_candidate.type}
    except AttributeError:
        return "unknown"
    return "relay" if "relay" in types else "direct"


def sctp_idle(pc: Any) -> bool:
    """SCTP holds nothing unsent and nothing unacknowledged."""
    sctp = pc.sctp
    outbound = getattr(sctp, "_outbound_queue", None)
    sent = getattr(sctp, "_sent_queue", None)
    if outbound is None or sent is None:  # another aiortc version: best effort
        return True
    return not outbound and not sent
