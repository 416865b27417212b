"""Loopback mode: WebRTC between two peers on one machine, gathering only 127.0.0.1.

For tests, benchmarks and the demo: ``loopback_only()`` restricts every aioice
connection in the process, ``link_gathering(True)`` (used by
``RtcLink(loopback=True)``) only the gathering it wraps, and
``keep_loopback_candidates`` drops remote candidates that point anywhere else.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import aioice.ice

from p2pchat.net.ice import is_loopback

# aioice deliberately skips loopback addresses (RFC 8445 5.1.1.1), so two peers on one
# machine without a network would never connect. Loopback mode replaces the host
# address discovery with 127.0.0.1 only. The hook is installed once and is transparent
# unless loopback_only() is active or the gathering runs inside a loopback RtcLink
# (a context variable, so one loopback link does not change another link's gathering).
_loopback_link: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "p2pchat_loopback_link", default=False
)
_loopback_scopes = 0
_original_get_host_addresses: Callable[[bool, bool], list[str]] | None = None


def install_host_address_hook() -> None:
    """Wrap aioice's host address discovery, once; it only changes while loopback is on."""
    global _original_get_host_addresses
    if _original_get_host_addresses is not None:
        return
    original: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses
    _original_get_host_addresses = original

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if _loopback_scopes > 0 or _loopback_link.get():
            return ["127.0.0.1"]
        return original(use_ipv4, use_ipv6)

    aioice.ice.get_host_addresses = host_addresses


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While active, every aioice connection in this process gathers only 127.0.0.1.

    Re-entrant. For tests, benchmarks and the demo; ``RtcLink(loopback=True)`` does
    the same for its own connection only. No mDNS query is ever made for our own
    candidates, and STUN is only contacted when a STUN URL is configured.
    """
    global _loopback_scopes
    install_host_address_hook()
    _loopback_scopes += 1
    try:
        yield
    finally:
        _loopback_scopes -= 1


def keep_loopback_candidates(sdp: str) -> str:
    """Drop remote candidates that are not loopback addresses (including mDNS names).

    In loopback mode this guarantees we send connectivity checks, and mDNS lookups,
    nowhere else, whatever the remote SDP says.
    """
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 8 or not is_loopback(fields[4]):
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


@contextlib.contextmanager
def link_gathering(loopback: bool) -> Iterator[None]:
    """Gather candidates for one link: loopback only when ``loopback`` (this context only)."""
    token = _loopback_link.set(loopback)
    try:
        yield
    finally:
        _loopback_link.reset(token)
