"""What p2pchat checks in a session description before aiortc sees it, and ICE's failure.

Kept apart from ``rtc`` so that the service can name these without importing
aiortc (``net/rtc_preload``): ``count_candidates`` and ``NoDirectPath`` are used
while choosing a path, ``check_description`` only once aiortc is loaded anyway.
"""

from __future__ import annotations

from typing import Final

from p2pchat.core.errors import RemoteProtocolError, TransportError

#: An SDP for one data-only m-line is about 1 KiB; anything far bigger is hostile.
MAX_SDP_CHARS: Final = 32 * 1024
#: What aiortc's SDP parser raises on a description it cannot read.
UNPARSABLE: Final = (ValueError, AssertionError, IndexError, KeyError, TypeError)


class NoDirectPath(TransportError):
    """ICE found no working pair in time (the transit relay may still connect)."""

    reason = "no_direct_path"


def count_candidates(sdp: str) -> int:
    """How many ICE candidates a description offers (0: only a relay can reach it)."""
    return sum(1 for line in sdp.splitlines() if line.startswith("a=candidate:"))


def check_description(sdp: str) -> None:
    """Refuse what aiortc would refuse, for an offer that never reaches aiortc."""
    from aiortc.sdp import SessionDescription

    if len(sdp) > MAX_SDP_CHARS:
        raise RemoteProtocolError("The peer's offer is not a plausible session description.")
    try:
        parsed = SessionDescription.parse(sdp)
        usable = (
            len(parsed.media) == 1
            and parsed.media[0].kind == "application"
            and parsed.media[0].ice is not None
            and bool(parsed.media[0].ice.usernameFragment)
            and parsed.media[0].dtls is not None
            and bool(parsed.media[0].dtls.fingerprints)
        )
    except (*UNPARSABLE, AttributeError):
        usable = False
    if not usable:
        raise RemoteProtocolError("The peer's offer could not be understood.")


def no_address_error(relay_only: bool) -> TransportError:
    """Our own description offers no address: what to check."""
    if relay_only:
        hint = (
            "the TURN server gave no relay address: check its URL, that it is "
            "running, and the username/password or shared secret"
        )
    else:
        hint = "this machine has no usable network address"
    return TransportError(f"Cannot connect: {hint}.")
