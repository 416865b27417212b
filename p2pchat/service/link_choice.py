"""Which path carries the session: WebRTC where ICE finds one, else the transit relay.

After the SDPs crossed, ``connect_and_bind`` gives ICE ``transit_after`` seconds
(one second when STUN got no answer; none when either side offered no ICE
candidate); then both sides also try
the magic-wormhole transit relay, with a token derived from the pairing's key and
transcript. Both may end up with two open links, so one side decides: the
offerer (the "leader") sends its bind on the first link that opens, and the
answerer takes whichever link the leader's bind arrives on and answers there.
The other link is closed. Without a transit relay this is the plain bind.

When nothing opens, ``NoPathFound`` says which step failed and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from p2pchat.core.errors import P2PChatError, RemoteProtocolError, TransportError
from p2pchat.core.handshake import Pairing, Reconnect
from p2pchat.core.keys import Channel, SessionKeys
from p2pchat.core.timeline import mark
from p2pchat.net.link import Link
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.rtc_sdp import NoDirectPath, count_candidates
from p2pchat.net.transit import open_transit, parse_relay
from p2pchat.service.rendezvous import MAX_EARLY_FRAMES, cross_descriptions

if TYPE_CHECKING:  # aiortc is imported when a link is opened (net/rtc_preload)
    from p2pchat.net.rtc import RtcLink

#: ICE's head start when STUN found no public address (instead of ``transit_after``).
UDP_BLOCKED_TRANSIT_AFTER: Final = 1.0
Role = Literal["offerer", "answerer"]
StunResult = Literal["found", "none", "off"]


class TransitHandshake(Protocol):
    @property
    def role(self) -> Role | None: ...

    def bind_message(self) -> bytes: ...

    def receive_bind(self, data: bytes) -> SessionKeys: ...

    def transit_key(self) -> bytes: ...


class NoPathFound(TransportError):
    """Neither ICE nor the relay connected; says which step failed and what helps."""

    reason = "no_path"

    def __init__(
        self, *, stun: StunResult, seconds: float, relay: str | None, relay_error: str
    ) -> None:
        self.stun = stun
        self.seconds = seconds
        self.relay = relay
        self.relay_error = relay_error
        super().__init__(no_path_message(stun, seconds, relay, relay_error))


_STUN_TEXT: Final = {
    "found": "STUN found your public address",
    "none": "the STUN server gave no public address (UDP may be blocked)",
    "off": "STUN is off",
}


def no_path_message(stun: StunResult, seconds: float, relay: str | None, relay_error: str) -> str:
    """The English sentence; the TUI shows the same through its catalogues."""
    if relay is None:
        return (
            f"The mailbox worked and {_STUN_TEXT[stun]}, but no direct path to the peer "
            f"opened within {seconds:g} s and no relay is set. Set a transit relay "
            "(transit_relay) or a TURN server in the settings."
        )
    return (
        f"The mailbox worked and {_STUN_TEXT[stun]}, but no direct path to the peer "
        f"opened within {seconds:g} s and the transit relay {relay} failed: {relay_error} "
        "Your network may block outgoing connections: try another network, or set "
        "a TURN server or another transit relay in the settings."
    )


@dataclass(frozen=True)
class PathPlan:
    relay: str | None
    transit_after: float
    timeout: float
    stun_configured: bool


async def connect_and_bind(
    rtc: RtcLink, remote_sdp: str, handshake: TransitHandshake, plan: PathPlan
) -> tuple[Link, SessionKeys, list[tuple[Channel, bytes]]]:
    """Choose the link (see the module docstring), exchange binds on it, return it."""
    link, first = await open_path(rtc, remote_sdp, handshake, plan)
    return (link, *await bind_on(link, first, handshake, plan.timeout))


async def over_webrtc(
    mailbox: MailboxClient,
    pairing: Pairing | Reconnect,
    open_link: Callable[[], RtcLink],
    plan: PathPlan,
    crossed: Callable[[], None],
) -> tuple[Link, bytes | None]:
    """The SDPs over the mailbox (``crossed`` is told when they did), then ``open_path``.

    A link opened here is closed when this fails or is cancelled (a direct path won).
    """
    opened: list[RtcLink] = []

    def opening() -> RtcLink:
        opened.append(open_link())
        return opened[-1]

    try:
        rtc = await cross_descriptions(mailbox, pairing, opening)
        crossed()
        assert pairing.remote_sdp is not None
        return await open_path(rtc, pairing.remote_sdp, pairing, plan)
    except BaseException:
        for rtc in opened:
            close_later(rtc.close())
        raise


async def open_path(
    rtc: RtcLink, remote_sdp: str, handshake: TransitHandshake, plan: PathPlan
) -> tuple[Link, bytes | None]:
    """The first link to open (ICE or the relay); the answerer's comes with the leader's bind."""
    leader = handshake.role == "offerer"
    if plan.relay is not None:
        parse_relay(plan.relay)  # a malformed address is the user's to fix, not a path
    attempts: dict[asyncio.Future[tuple[Link, bytes | None]], str] = {
        asyncio.ensure_future(_over_ice(rtc, leader, plan.timeout)): "ice"
    }
    if plan.relay is not None:
        hopeless = rtc.offers_no_candidates or count_candidates(remote_sdp) == 0
        delay = 0.0 if hopeless else plan.transit_after
        if plan.stun_configured and not rtc.found_public_address:
            # STUN got no answer: UDP is likely blocked, and the only direct path left
            # is a shared LAN, where ICE opens well within a second.
            delay = min(delay, UDP_BLOCKED_TRANSIT_AFTER)
        key = handshake.transit_key()
        role: Role = "offerer" if leader else "answerer"
        attempts[asyncio.ensure_future(_over_transit(plan.relay, key, role, leader, delay))] = (
            "transit"
        )
    errors: dict[str, P2PChatError] = {}
    try:
        link, first = await _first_to_open(attempts, plan.timeout, errors)
    except TimeoutError:
        ice_error = errors.get("ice")
        if plan.relay is None and ice_error is not None and not isinstance(ice_error, NoDirectPath):
            raise ice_error from None  # the peer left or misbehaved: not a path problem
        raise _no_path(rtc, plan, errors) from None
    if link is not rtc:
        close_later(rtc.close())
    return link, first


async def bind_on(
    link: Link, first: bytes | None, handshake: TransitHandshake, timeout: float
) -> tuple[SessionKeys, list[tuple[Channel, bytes]]]:
    """Exchange binds on the chosen link: the leader speaks first, the answerer replies
    to the bind that came with ``first``. The link is closed when this fails."""
    try:
        if handshake.role == "offerer":
            return await _bind_as_leader(link, handshake, timeout)
        assert first is not None
        keys = handshake.receive_bind(first)
        await link.send(Channel.CONTROL, handshake.bind_message())
    except BaseException:
        close_later(link.close())  # the service only knows the link once this returns
        raise
    return keys, []


async def _over_ice(rtc: RtcLink, leader: bool, timeout: float) -> tuple[Link, bytes | None]:
    await rtc.wait_open(timeout)
    mark("webrtc-open")
    return rtc, None if leader else await first_control_frame(rtc, timeout)


async def _over_transit(
    relay: str, key: bytes, role: Role, leader: bool, delay: float
) -> tuple[Link, bytes | None]:
    await asyncio.sleep(delay)
    link = await open_transit(relay, key, role)
    if leader:
        return link, None
    try:
        return link, await first_control_frame(link, None)
    except BaseException:
        close_later(link.close())
        raise


async def first_control_frame(link: Link, timeout: float | None) -> bytes:
    """The leader's bind: it sends nothing before it, so the first frame must be it."""
    channel, data = await link.recv(timeout=timeout)
    if channel != Channel.CONTROL:
        raise RemoteProtocolError("peer sent data before proving who it is")
    return data


async def _first_to_open(
    attempts: dict[asyncio.Future[tuple[Link, bytes | None]], str],
    timeout: float,
    errors: dict[str, P2PChatError],
) -> tuple[Link, bytes | None]:
    """The first attempt that succeeds; the others are cancelled and their links closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = set(attempts)
    try:
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            winner: tuple[Link, bytes | None] | None = None
            for task in done:
                error = task.exception()
                if error is None:
                    if winner is None:
                        winner = task.result()
                    else:  # two opened at once: keep the first, close the other
                        close_later(task.result()[0].close())
                elif isinstance(error, P2PChatError):
                    errors[attempts[task]] = error
                else:
                    raise error
            if winner is not None:
                return winner
        raise TimeoutError
    finally:
        for task in pending:
            task.cancel()
            task.add_done_callback(_close_result)


def _close_result(task: asyncio.Future[tuple[Link, bytes | None]]) -> None:
    if not task.cancelled() and task.exception() is None:
        from p2pchat.net.rtc import RtcLink  # loaded: a link was opened

        link = task.result()[0]
        if not isinstance(link, RtcLink):
            close_later(link.close())


async def _bind_as_leader(
    link: Link, handshake: TransitHandshake, timeout: float
) -> tuple[SessionKeys, list[tuple[Channel, bytes]]]:
    await link.send(Channel.CONTROL, handshake.bind_message())
    early: list[tuple[Channel, bytes]] = []
    while True:
        channel, data = await link.recv(timeout=timeout)
        if channel == Channel.CONTROL:
            return handshake.receive_bind(data), early
        if len(early) >= MAX_EARLY_FRAMES:
            raise RemoteProtocolError("peer sent data before proving who it is")
        early.append((channel, data))


def _no_path(rtc: RtcLink, plan: PathPlan, errors: dict[str, P2PChatError]) -> NoPathFound:
    stun: StunResult = "off"
    if plan.stun_configured:
        stun = "found" if rtc.found_public_address else "none"
    transit_error = errors.get("transit")
    relay_error = (
        str(transit_error) if transit_error else f"no peer arrived within {plan.timeout:g} s."
    )
    if not relay_error.endswith("."):
        relay_error += "."
    return NoPathFound(stun=stun, seconds=plan.timeout, relay=plan.relay, relay_error=relay_error)


_background: set[asyncio.Future[None]] = set()


def close_later(closing: Awaitable[None]) -> None:
    """Close a link we no longer need without making the chosen one wait for it."""
    task = asyncio.ensure_future(closing)
    _background.add(task)
    task.add_done_callback(_background.discard)
    task.add_done_callback(_swallow)


def _swallow(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.exception()


__all__ = [
    "NoPathFound",
    "PathPlan",
    "bind_on",
    "close_later",
    "connect_and_bind",
    "first_control_frame",
    "no_path_message",
    "open_path",
    "over_webrtc",
]
