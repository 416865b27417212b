"""What pairing hands to the session: channel ids, capabilities, limits and keys.

Shared by ``pairing.py`` (which produces ``SessionKeys``) and ``session.py``
(which consumes them), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, Literal

Role = Literal["offerer", "answerer"]

DEFAULT_MAX_IMAGE_BYTES: Final = 50 * 1024 * 1024
DEFAULT_MAX_TEXT_CHARS: Final = 16_000
MAX_LABEL_CHARS: Final = 64


class Channel(IntEnum):
    """The two pre-negotiated WebRTC data channels (their SCTP stream ids)."""

    CONTROL = 0
    DATA = 1


@dataclass(frozen=True)
class Capabilities:
    """What a client announces in its sealed ``version`` message."""

    view_once: bool = True
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    label: str = ""  # a display name the peer may show; a label, never trusted


@dataclass(frozen=True)
class Limits:
    """What this side accepts from the peer; checked before allocating."""

    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS
    max_images_in_flight: int = 4
    max_image_side: int = 16384


@dataclass(frozen=True)
class SessionKeys:
    """The outcome of a completed pairing: one stream key per direction and channel."""

    role: Role
    send_keys: dict[Channel, bytes] = field(repr=False)
    recv_keys: dict[Channel, bytes] = field(repr=False)
    transcript: bytes = field(repr=False)
    safety_number: str = ""
    peer_identity: bytes = b""
    peer_capabilities: Capabilities = field(default_factory=Capabilities)
    reconnect_psk: bytes = field(default=b"", repr=False)
    # A reconnect: the key this meeting used (the contact's fallback until the next one).
    previous_psk: bytes = field(default=b"", repr=False)
