"""What a ChatService is configured with: ServiceConfig, its timing defaults, the mailbox URL.

Front ends build a ``ServiceConfig`` (from flags, the settings file and the
identity store) and hand it to ``ChatService``; nothing here does I/O apart
from reading the settings file for ``default_mailbox_url``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from p2pchat.core.appid import APPID
from p2pchat.core.keys import Limits, SessionKeys
from p2pchat.media.policy import SanitizePolicy
from p2pchat.media.vault import DEFAULT_UNOPENED_TIMEOUT
from p2pchat.net.ice import IceSettings

if TYPE_CHECKING:
    # The type of ``identity`` only: this module is on `p2pchat send`'s way to its code,
    # which needs no signing key (the service makes or loads one afterwards).
    import nacl.signing

HEARTBEAT_INTERVAL: Final = 5.0
HEARTBEAT_TIMEOUT: Final = 15.0
CODE_VALIDITY: Final = 600.0
RECONNECT_WAIT: Final = 600.0  # how long to wait at the meeting point for a contact
MAILBOX_TIMEOUT: Final = 10.0
CONNECT_TIMEOUT: Final = 20.0
#: How long ICE has on its own before the transit relay is tried too (issue 18:
#: "a few seconds"; a cone NAT hole punch takes under 2 s in scripts/nat-lab).
TRANSIT_AFTER: Final = 5.0
CLOSE_GRACE: Final = 2.0
# How long close() waits for the peer to confirm what is still queued before it gives
# up and reports the rest as not delivered: a base, plus a share per queued message,
# plus the queued photo bytes at a slow link's pace (documented in the README).
CLOSE_DELIVERY_BASE: Final = 10.0
CLOSE_DELIVERY_PER_ITEM: Final = 0.01
CLOSE_DELIVERY_MIN_RATE: Final = 128 * 1024  # bytes per second

MAX_WIRE_FRAME: Final = 64 * 1024  # a chunk frame: 60 KiB of data plus framing and MAC
#: How long a "bye, because ..." may take to leave, and how long it is given to arrive
#: before the link closes under it (a reliable channel, but close() aborts it).
BYE_REASON_SECONDS: Final = 3.0
BYE_LINGER_SECONDS: Final = 0.5
PIN_FAILED_REASON: Final = (
    "their app could not save you as a contact (its configuration folder is read-only "
    "or full), so it ended the conversation; nothing was pinned there"
)

State = Literal["idle", "pairing", "paired", "closing", "closed", "failed"]


def close_delivery_limit(items: int, queued_bytes: int) -> float:
    """Seconds close() waits for ``items`` unconfirmed messages holding ``queued_bytes``."""
    return (
        CLOSE_DELIVERY_BASE
        + items * CLOSE_DELIVERY_PER_ITEM
        + queued_bytes / CLOSE_DELIVERY_MIN_RATE
    )


@dataclass
class ServiceConfig:
    mailbox_url: str
    ice: IceSettings = field(default_factory=IceSettings)
    loopback: bool = False
    identity: nacl.signing.SigningKey | None = None
    honours_view_once: bool = True
    image_policy: SanitizePolicy = field(default_factory=SanitizePolicy)
    limits: Limits = field(default_factory=Limits)
    label: str = ""
    appid: str = APPID
    code_validity: float = CODE_VALIDITY
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT
    # How long a received view-once photo may wait unopened before it is wiped.
    view_once_timeout: float = DEFAULT_UNOPENED_TIMEOUT
    # Called with the verified peer's keys before ``Paired`` is emitted or any frame is
    # read; raising a P2PChatError stops the session (pinned key changed, blocked).
    peer_check: Callable[[SessionKeys], None] | None = None
    reconnect_wait: float = RECONNECT_WAIT
    transit_after: float = TRANSIT_AFTER
    # A front end that saves received photos acknowledges each one only once it is
    # kept (``ChatService.acknowledge``) or refuses it (``refuse_image``): the sender's
    # "delivered" then means the photo was saved.
    confirm_images: bool = False
    # Likewise for texts, acknowledged once written out (a closed stdout acks nothing).
    confirm_texts: bool = False
    # The clock of every countdown of the conversation (disappearing messages, view-once):
    # monotonic, so setting the system clock changes no deadline (tests run it faster).
    timer_clock: Callable[[], float] = time.monotonic
    # False: ``ChatService.conversation`` records no message (a script that runs for days
    # prints what arrives and needs no history in memory; delivery is tracked all the same).
    keep_history: bool = True
    # Start an image worker while pairing, for the first photo the peer sends
    # (service/incoming_images.py); off for a front end that only sends.
    warm_image_worker: bool = True
    # A direct TCP path on a shared network (service/direct_race.py): on for the one-shot
    # `send` / `receive`; chats keep WebRTC. Never taken under ``ice.relay_only``.
    direct_tcp: bool = False
    # Once paired, keep one sending worker with the picture check loaded for the next
    # photo the user prepares (service/worker_spare.py); for front ends that send photos.
    warm_send_worker: bool = False


def default_mailbox_url() -> str:
    """--mailbox, else P2PCHAT_MAILBOX, else the settings file, else the public server.

    A settings file that cannot be used raises ``SettingsError``: falling back to the
    public mailbox would send the rendezvous somewhere the user did not choose.
    """
    env = os.environ.get("P2PCHAT_MAILBOX")
    if env:
        return env
    try:
        from p2pchat.store.settings import load_settings
    except ImportError:  # pragma: no cover - the store is part of the package
        return "ws://relay.magic-wormhole.io:4000/v1"
    return str(load_settings().mailbox_url)
