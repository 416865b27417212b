"""Where a pinned contact is met at the mailbox, and moving on when that place is taken.

The meeting point is ``rendezvous_nameplate(key, window, attempt)``: it changes
every meeting window (a day), so the mailbox operator cannot link a pair's
meetings across days by nameplate, and a squatter who learned one holds it for
that window at most. Both sides start at attempt 0; a point that is crowded
(two strangers hold it) or where a stranger speaks (``NotTheContact``) is left
for the next attempt, and the user is told. A side still waiting when its
window ends, with nobody proven at its point, moves to the new window's point,
so two sides whose clocks straddle a window's end still meet (after at most the
clock difference).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from p2pchat.core.errors import P2PChatError, TransportError
from p2pchat.core.handshake import (
    MEETING_ATTEMPTS,
    MEETING_WINDOW_SECONDS,
    NotTheContact,
    Reconnect,
    meeting_window,
    rendezvous_nameplate,
)
from p2pchat.net.mailbox import MailboxClient, MailboxCrowded
from p2pchat.service import events as ev
from p2pchat.service.rendezvous import exchange_descriptions

if TYPE_CHECKING:  # aiortc is imported when a link is opened (net/rtc_preload)
    from p2pchat.net.rtc import RtcLink

log = logging.getLogger(__name__)

#: Why a meeting point was left: the key front ends word, and the English for logs.
WHY = {"crowded": "it is crowded", "stranger": "a stranger spoke there"}
MOVED_NOTICE = (
    "The usual meeting point at the mailbox was taken by someone else ({why}); "
    "moved to the next one ({attempt} of {attempts}). Your contact's p2pchat does the same."
)


async def meet_contact(
    meeting_key: bytes,
    connect: Callable[[], Awaitable[MailboxClient]],
    make_handshake: Callable[[str], Reconnect],
    open_link: Callable[[], RtcLink],
    notify: Callable[[ev.Notice], None],
    clock: Callable[[], float] | None = None,
) -> tuple[RtcLink, Reconnect]:
    """Meet the contact; the link holding both descriptions, and the handshake to bind.

    ``meeting_key`` is the contact's fixed meeting key (``core.handshake.meeting_key``).

    ``connect`` opens a new mailbox connection (the caller keeps it to close it on
    failure); ``make_handshake`` makes a fresh ``Reconnect`` for our side id.
    """
    clock = clock or _now
    window, attempt = meeting_window(clock()), 0
    while True:
        mailbox = await connect()
        nameplate = rendezvous_nameplate(meeting_key, window, attempt)
        try:
            await mailbox.open(await mailbox.claim(nameplate))
        except MailboxCrowded:
            attempt = await _move_on(mailbox, attempt, "crowded", notify)
            continue
        handshake = make_handshake(mailbox.side)
        task = asyncio.ensure_future(exchange_descriptions(mailbox, handshake, open_link))
        try:
            link = await _until_window_ends(task, handshake, window, clock)
        except NotTheContact:
            attempt = await _move_on(mailbox, attempt, "stranger", notify)
            continue
        except BaseException:
            task.cancel()
            raise
        if link is not None:
            return link, handshake
        # Nobody proved to be the contact before the window ended: follow the clock.
        with contextlib.suppress(P2PChatError):
            await mailbox.close("lonely")
        window, attempt = meeting_window(clock()), 0


def _now() -> float:
    return time.time()


async def _until_window_ends(
    task: asyncio.Future[RtcLink],
    handshake: Reconnect,
    window: int,
    clock: Callable[[], float],
) -> RtcLink | None:
    """The task's link; None when the window ended with nobody proven at this point."""
    while True:
        remaining = (window + 1) * MEETING_WINDOW_SECONDS - clock()
        done, _ = await asyncio.wait({task}, timeout=max(remaining, 0.0))
        if done:
            return task.result()
        if handshake.role is None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        # The contact proved itself here: finish here, whatever the clock says.
        return await task


async def _move_on(
    mailbox: MailboxClient, attempt: int, why: str, notify: Callable[[ev.Notice], None]
) -> int:
    """Leave this meeting point; the next attempt, or TransportError when none is left."""
    with contextlib.suppress(P2PChatError):
        await mailbox.close("errory")
    attempt += 1
    if attempt >= MEETING_ATTEMPTS:
        raise TransportError(
            f"All {MEETING_ATTEMPTS} meeting points for this contact at the mailbox are "
            "taken by someone else, or your contact's p2pchat no longer holds the same "
            "reconnect key (an older p2pchat, a contact list restored from an old backup, "
            "or they paired with you again). Try again later (the meeting points change "
            "every day), use another mailbox server (--mailbox), or meet with a new code."
        ).because("meeting_points_taken", attempts=MEETING_ATTEMPTS)
    log.info("meeting point taken (%s); trying the next one", WHY[why])
    values = {"attempt": attempt + 1, "attempts": MEETING_ATTEMPTS}
    english = MOVED_NOTICE.format(why=WHY[why], **values)
    notify(ev.Notice(english, f"notices.meeting_moved.{why}", values))
    return attempt
