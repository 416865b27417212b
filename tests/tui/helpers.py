"""Shared helpers of the TUI tests: a fixed identity, texts of widgets, real image bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import nacl.signing

from p2pchat.core.crypto import fingerprint, safety_number
from p2pchat.core.keys import SessionKeys
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ServiceConfig
from p2pchat.service import events as ev
from p2pchat.tui.app import P2PChatApp, make_app
from tests.photos import PHOTOS, photo

CORPUS = PHOTOS
GPS_PHOTO = photo("nikon-gps-DSCN0010.jpg")

ALICE_KEY = nacl.signing.SigningKey(bytes(range(32)))
BOB_KEY = nacl.signing.SigningKey(bytes(range(32, 64)))
ALICE_FINGERPRINT = fingerprint(bytes(ALICE_KEY.verify_key))
SAFETY_NUMBER = safety_number(bytes(ALICE_KEY.verify_key), bytes(BOB_KEY.verify_key))


def paired_event(label: str = "bob", *, view_once: bool = True) -> ev.Paired:
    return ev.Paired(
        safety_number=SAFETY_NUMBER,
        peer_fingerprint=fingerprint(bytes(BOB_KEY.verify_key)),
        connection="direct",
        peer_view_once=view_once,
        peer_label=label,
    )


def loopback_app(
    url: str,
    key: nacl.signing.SigningKey,
    label: str,
    *,
    peer_check: Callable[[SessionKeys], None] | None = None,
    **app_options: Any,
) -> P2PChatApp:
    """A real app on 127.0.0.1 that pairs through the mailbox at ``url``, half-cell images."""
    config = ServiceConfig(
        mailbox_url=url,
        ice=IceSettings(),
        loopback=True,
        identity=key,
        label=label,
        peer_check=peer_check,
    )
    return make_app(
        config,
        fingerprint=label,
        image_renderer="halfcell",
        my_label=label,
        **{"language": "en", **app_options},
    )


def text_of(widget: object) -> str:
    """The plain text a Static shows (its content, never re-parsed as markup)."""
    return str(widget.render())  # type: ignore[attr-defined]


async def real_prepare(
    data: bytes, original_size: bool, *, fixes: object = None, max_side: int | None = None
) -> object:
    """The real sanitiser, as ChatService.prepare_image runs it (in a thread)."""
    from p2pchat.media.content_fix import ContentFixes
    from p2pchat.media.sanitize import SanitizePolicy, sanitize_image

    policy = SanitizePolicy(
        max_long_edge=max_side or (None if original_size else 2048),
        side="send",
        scan_content=True,
        fixes=fixes if isinstance(fixes, ContentFixes) else ContentFixes(),
    )
    return await asyncio.to_thread(sanitize_image, data, policy)
