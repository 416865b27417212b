"""The head start of an invite: the mailbox steps up to the code, and the cleaning of photos.

`p2pchat send` shows its code before the service stack (the PAKE, the pairing, the
session, the photo pipeline's checks) is imported: this module imports only the
image worker, the code words and, once the worker is running, the mailbox client.
What it opens is handed to ``ChatService.invite(opened)``, which pairs from there;
``PairingFlow.invite`` without a head start runs the same ``open_invite`` steps.

The sender's photos are cleaned from the start (``start_cleaning``), each in a
worker of its own, on another core while the mailbox is reached and the other
person types the code: a 12 MP photo takes its worker about a fifth of a second,
the other side longer to start and pair. Its picture check follows in the same
worker at a lower priority and never holds the photo back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from p2pchat.core import codes
from p2pchat.media.policy import ContentFixes, SanitizedImage, SanitizePolicy
from p2pchat.media.report import PrivacyReport
from p2pchat.media.worker import clean_then_check, sanitize_async
from p2pchat.net.ice import check_ice
from p2pchat.service.config import MAILBOX_TIMEOUT, ServiceConfig

if TYPE_CHECKING:
    from p2pchat.net.mailbox import MailboxClient

# A dropped rendezvous connection is reopened (same side, same mailbox) for this
# long: a Wi-Fi hand-over or a server restart behind a load balancer, not an outage.
MAILBOX_RECONNECT_WITHIN = 30.0


@dataclass(frozen=True)
class OpenedInvite:
    """A bound mailbox connection with a nameplate claimed and its mailbox open; the code."""

    mailbox: MailboxClient
    code: str


async def connect_mailbox(
    config: ServiceConfig, reconnect_within: float = MAILBOX_RECONNECT_WITHIN
) -> MailboxClient:
    """Connect and bind to ``config``'s mailbox (``TransportError`` naming it when unreachable)."""
    # Imported here, not above: websockets costs tens of milliseconds, and `send` starts
    # its image workers first so that they run on the other core meanwhile.
    from p2pchat.net.mailbox import MailboxClient

    return await MailboxClient.connect(
        config.mailbox_url,
        config.appid,
        timeout=MAILBOX_TIMEOUT,
        reconnect_within=reconnect_within,
    )


async def open_invite(mailbox: MailboxClient) -> OpenedInvite:
    """Allocate a nameplate, claim it, open its mailbox and make a code of it."""
    nameplate = await mailbox.allocate()
    await mailbox.open(await mailbox.claim(nameplate))
    return OpenedInvite(mailbox, str(codes.generate(nameplate)))


async def invite_ahead(config: ServiceConfig) -> OpenedInvite:
    """``open_invite`` before any service exists; closes the connection if a step fails."""
    # Refuse an unusable ICE setup (relay-only without TURN, ...) before anyone waits.
    check_ice(config.ice)
    mailbox = await connect_mailbox(config)
    try:
        return await open_invite(mailbox)
    except BaseException:
        await mailbox.close()
        raise


def sending_policy(
    config: ServiceConfig,
    original_size: bool = False,
    *,
    fixes: ContentFixes | None = None,
    max_side: int | None = None,
) -> SanitizePolicy:
    """How the user's own photo is cleaned and checked (``ChatService.prepare_image``)."""
    policy = config.image_policy
    if original_size:
        policy = SanitizePolicy(max_long_edge=None, side="send")
    if max_side is not None:
        current = policy.max_long_edge
        policy = replace(
            policy, max_long_edge=max_side if current is None else min(current, max_side)
        )
    return replace(policy, scan_content=True, fixes=fixes or ContentFixes())


@dataclass(frozen=True)
class CleanedPhoto:
    """A photo's clean copy, and its picture check, which follows it (``start_cleaning``)."""

    image: SanitizedImage
    check: asyncio.Future[PrivacyReport]


async def start_cleaning(data: bytes, policy: SanitizePolicy) -> asyncio.Task[CleanedPhoto]:
    """Clean ``data`` in a worker of its own, begun now: the task that gives the clean photo.

    The task raises ``ImageRejected`` as ``prepare_image`` would; cancelling it kills the
    worker. It is given one step of the loop before this returns: with a free slot in the
    budget (a sender's first photo has one) that step starts the child, which then runs on
    the other core while the caller goes on to the mailbox.

    The picture check only warns here (nothing is blurred), so it does not hold the photo
    back: the worker answers with the clean copy, then checks the same pixels at a lower
    priority (``CleanedPhoto.check``, which the caller cancels if it stops waiting).
    """
    task = asyncio.ensure_future(_clean_then_check(data, policy))
    await asyncio.sleep(0)
    return task


async def _clean_then_check(data: bytes, policy: SanitizePolicy) -> CleanedPhoto:
    if policy.fixes.active or not policy.scan_content:
        return CleanedPhoto(await sanitize_async(data, policy), _no_check())
    image, check = await clean_then_check(data, policy)
    return CleanedPhoto(image, check)


def _no_check() -> asyncio.Future[PrivacyReport]:
    done: asyncio.Future[PrivacyReport] = asyncio.get_running_loop().create_future()
    done.set_result(PrivacyReport("", 0, 0))
    return done
