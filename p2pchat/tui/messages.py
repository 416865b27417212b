"""Textual messages the app's workers post: service events and results of service calls.

Workers never touch widgets; they post one of these and the app's handlers
update the screens ("messages up").
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from p2pchat.service import events as ev
from p2pchat.service.api import ChatSession


@dataclass
class ServiceEventPosted(Message):
    """One event read from ``ChatService.events()``."""

    service: ChatSession
    event: ev.ServiceEvent


@dataclass
class CodeAllocated(Message):
    service: ChatSession
    code: str


@dataclass
class PairingSucceeded(Message):
    service: ChatSession
    paired: ev.Paired


@dataclass
class PairingFailed(Message):
    service: ChatSession
    reason: str
    # The exception itself, when a worker caught one: a changed key or a blocked
    # contact gets its own screen rather than a line of text.
    error: BaseException | None = None


@dataclass
class SendFinished(Message):
    """A ``send_text`` / ``send_image`` call returned (``message_id``) or failed (``error``)."""

    local_id: str
    message_id: str | None
    error: str = ""


@dataclass
class ServiceClosed(Message):
    service: ChatSession
