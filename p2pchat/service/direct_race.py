"""The direct TCP path on a shared network, raced against WebRTC (``p2pchat send``/``receive``).

With ``ServiceConfig.direct_tcp`` a side says in its version that it takes part.
The side that will offer, the "leader" (the smaller side id, known once the peer's
pake arrives), listens (``net.direct``) before it seals its version in reply and
names its addresses there; the answerer never listens. Once both versions are
verified the leader accepts while the answerer connects to its hints. Each side gives
that attempt ``DIRECT_GRACE`` seconds on its own before it starts the WebRTC path
(the SDP exchange over the mailbox, then ICE and the transit relay,
``link_choice.open_path``); before that, aiortc is not even imported.

The grace only says when WebRTC starts, never when the direct path is given up:
both keep running, and the rule of ``link_choice`` decides, so that the two sides
cannot disagree whatever their clocks do. The leader sends its bind on the first
link that opens; the answerer takes the link the leader's bind arrives on. A
direct link that does not carry the leader's bind is closed by the leader (it
never took it), which ends the answerer's attempt too. When the direct path wins,
``Pairing.choose_direct`` completes the transcript without SDPs, any SDP exchange
under way is cancelled on both sides and the mailbox is closed "happy".

Why 0.5 s: on a shared network a TCP connect and the proof take a few round trips
of a few milliseconds (Wi-Fi with power saving: tens), and the two sides verify
each other's version within one mailbox delivery of each other. Half a second
covers that on a loaded machine, and when the hints lead nowhere (the peer is on
another network) it is all the pairing loses: the answerer starts WebRTC at once
when every hint failed, the leader when its grace ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from p2pchat.core.handshake import Pairing, Reconnect
from p2pchat.core.handshake.version import DirectHint
from p2pchat.core.timeline import mark
from p2pchat.net.direct import DirectListener, connect_direct, local_hint_addresses
from p2pchat.net.link import Link
from p2pchat.service.config import CONNECT_TIMEOUT
from p2pchat.service.link_choice import close_later, first_control_frame

log = logging.getLogger(__name__)

DIRECT_GRACE: Final = 0.5
Opened = tuple[Link, bytes | None]


async def open_listener(loopback: bool) -> DirectListener:
    """Listen where a peer on the same network (or, under ``loopback``, machine) can reach."""
    return await DirectListener.open(local_hint_addresses(loopback))


def usable_hints(hints: tuple[DirectHint, ...], loopback: bool) -> list[DirectHint]:
    """The peer's hints we connect to: loopback ones only under ``loopback``, else none."""
    return [hint for hint in hints if ipaddress.ip_address(hint[0]).is_loopback == loopback]


class DirectSide:
    """This side's part in the direct path of one code pairing (none when not ``enabled``)."""

    def __init__(self, enabled: bool, loopback: bool, our_side: str) -> None:
        self.enabled = enabled
        self.loopback = loopback
        self.our_side = our_side
        self.listener: DirectListener | None = None

    @property
    def hints_at_start(self) -> list[DirectHint] | None:
        """``Pairing(direct_hints=)``: we take part; where we listen is said later."""
        return [] if self.enabled else None

    async def before_pake(self, pairing: Pairing, peer_side: object) -> None:
        """The peer's side is known: listen if we will lead (our version is sealed next)."""
        if self.enabled and isinstance(peer_side, str) and self.our_side < peer_side:
            self.listener = await open_listener(self.loopback)
            pairing.listen_at(self.listener.hints)

    async def choose_link(
        self, pairing: Pairing | Reconnect, webrtc: Callable[[], Awaitable[Opened]]
    ) -> tuple[Link, bytes | None, bool]:
        """The link that carries the bind once the versions are verified, and whether it
        is the direct one (the transcript then says so: ``Pairing.choose_direct``)."""
        direct = None
        if self.enabled and isinstance(pairing, Pairing):
            direct = self._attempt(pairing)
        if direct is None:
            await self.close()
            return (*await webrtc(), False)
        link, first, is_direct = await race(direct, webrtc, DIRECT_GRACE)
        if is_direct:
            assert isinstance(pairing, Pairing)
            pairing.choose_direct()
            mark("direct-chosen")
        return link, first, is_direct

    def _attempt(self, pairing: Pairing) -> Awaitable[Opened] | None:
        """Our half of the direct path, or None (the peer takes no part, or names nothing)."""
        if pairing.peer_direct is None:
            return None
        if pairing.role == "offerer":
            if self.listener is None or not self.listener.hints:
                return None
            return _accept(self.listener, pairing.direct_key())
        hints = usable_hints(pairing.peer_direct, self.loopback)
        if not hints:
            return None
        return _connect(hints, pairing.direct_key(), CONNECT_TIMEOUT)

    async def close(self) -> None:
        """Stop listening (idempotent): a link was chosen, or the pairing ended."""
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()


async def _accept(listener: DirectListener, key: bytes) -> Opened:
    link = await listener.accept(key)
    mark("direct-open")
    return link, None


async def _connect(hints: list[DirectHint], key: bytes, bind_timeout: float) -> Opened:
    link = await connect_direct(hints, key)
    mark("direct-open")
    try:
        return link, await first_control_frame(link, bind_timeout)
    except BaseException:
        close_later(link.close())
        raise


async def race(
    direct: Awaitable[Opened], webrtc: Callable[[], Awaitable[Opened]], grace: float
) -> tuple[Link, bytes | None, bool]:
    """The first link to open (see the module docstring) and whether it is the direct one.

    A failed direct attempt only starts WebRTC at once; a failed WebRTC attempt (a
    peer that stopped, no path) ends the pairing, as it does without a direct path.
    """
    direct_task: asyncio.Future[Opened] = asyncio.ensure_future(direct)
    pending: set[asyncio.Future[Opened]] = {direct_task}
    webrtc_task: asyncio.Future[Opened] | None = None
    try:
        await asyncio.wait(pending, timeout=grace)
        while True:
            if direct_task in pending and direct_task.done():
                pending.discard(direct_task)
                if _succeeded(direct_task):
                    return (*direct_task.result(), True)
            if webrtc_task is not None and webrtc_task.done():
                pending.discard(webrtc_task)
                return (*webrtc_task.result(), False)  # raises what made it fail
            if webrtc_task is None:
                mark("direct-grace-over" if direct_task in pending else "direct-failed")
                webrtc_task = asyncio.ensure_future(webrtc())
                pending.add(webrtc_task)
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in pending:
            task.cancel()
            task.add_done_callback(_close_unused)


def _succeeded(task: asyncio.Future[Opened]) -> bool:
    error = task.exception()
    if error is not None:
        # Best effort: whatever went wrong, WebRTC is still there.
        log.debug("the direct path failed: %s", type(error).__name__)
    return error is None


def _close_unused(task: asyncio.Future[Opened]) -> None:
    if not task.cancelled() and task.exception() is None:
        close_later(task.result()[0].close())


__all__ = ["DIRECT_GRACE", "DirectSide", "open_listener", "race"]
