"""The wire vocabulary of the magic-wormhole mailbox protocol, as the client sees it.

Limits, identifier formats, friendly texts for server errors, and the checks on
what an (untrusted) server sends: shared by ``mailbox.py`` and its tests, with no
network code of its own.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from p2pchat.core.errors import RemoteProtocolError, TransportError, UsageError

Mood = Literal["happy", "lonely", "scary", "errory"]
MOODS: Final = ("happy", "lonely", "scary", "errory")

DEFAULT_TIMEOUT: Final = 10.0
# Our bodies are sealed pake/version/SDP messages (a few KiB); hex doubles them and
# the whole JSON frame must stay under the embedded server's 64 KiB frame limit.
MAX_BODY_BYTES: Final = 24 * 1024
# Largest frame we accept from a server: a message with a maximal body plus slack
# for a long welcome/motd.
MAX_INCOMING_FRAME: Final = 2 * MAX_BODY_BYTES + 16 * 1024
# The peer sends a handful of phases; more unread than this is a hostile server.
MAX_PENDING_MESSAGES: Final = 64
MAX_NAMEPLATES_LISTED: Final = 10_000
MAX_SHORT_STRING: Final = 64
MAX_SERVER_TEXT: Final = 300

FIX_HINT: Final = (
    "Check the address and your network, choose another mailbox server with "
    "--mailbox URL or the P2PCHAT_MAILBOX environment variable, or run one yourself "
    "with `p2pchat mailbox`."
)

NAMEPLATE_RE: Final = re.compile(r"[0-9]{1,40}")
MAILBOX_ID_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SHORT_TOKEN_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
APPID_RE: Final = re.compile(r"[\x20-\x7e]{1,128}")
HEX_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")

# The command whose failure an `error` frame reports -> the reply its caller waits for.
_REPLY_FOR_COMMAND: Final = {
    "allocate": "allocated",
    "claim": "claimed",
    "release": "released",
    "close": "closed",
    "list": "nameplates",
    "ping": "pong",
}

_FRIENDLY_ERRORS: Final = {
    "crowded": (
        "This code is already being used by two other people (the mailbox is crowded). "
        "Ask for a new invite code."
    ),
    "reclaimed": (
        "This nameplate was already released by this side and cannot be claimed again. "
        "Make a new invite."
    ),
}


@dataclass(frozen=True)
class MailboxMessage:
    """One message the other side added to the mailbox."""

    side: str
    phase: str
    body: bytes


class MailboxTimeout(TransportError, TimeoutError):
    """A wait on the mailbox server or on the other side ran out of time."""

    reason = "mailbox_timeout"


class MailboxRefused(TransportError):
    """The mailbox server refused a command or all service: a server problem, exit 4."""

    reason = "mailbox_refused"


class MailboxCrowded(MailboxRefused):
    """Two other sides already hold this nameplate (or this side released it)."""

    reason = "mailbox_crowded"


BUSY_HINT: Final = (
    "Try again in a minute, or use another mailbox server with --mailbox URL "
    "(or run one yourself with `p2pchat mailbox`)."
)


def refusal_error(url: str, command: str, text: str) -> MailboxRefused:
    """The error for a server's ``error`` frame: ``text`` is already printable."""
    friendly = _FRIENDLY_ERRORS.get(text)
    if friendly is not None:
        return MailboxCrowded(friendly)
    if text.startswith("too many") or text.startswith("no free nameplate"):
        reason = text.removesuffix(", try again later")
        return MailboxRefused(f"The mailbox server at {url} is full ({reason}). {BUSY_HINT}")
    return MailboxRefused(f"The mailbox server at {url} refused {command!r}: {text}.")


def printable(text: str, limit: int = MAX_SERVER_TEXT) -> str:
    """A server-provided string made safe to show: no control chars, bounded length."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text[:limit])
    return cleaned + ("…" if len(text) > limit else "")


def is_valid_nameplate(nameplate: object) -> bool:
    """Nameplates are decimal digits (the real server rejects anything else)."""
    return isinstance(nameplate, str) and NAMEPLATE_RE.fullmatch(nameplate) is not None


def _random_hex(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        has_host = False
        parts = None
    if parts is None or parts.scheme not in ("ws", "wss") or not has_host:
        raise UsageError(
            f"{printable(url)!r} is not a mailbox server URL: it must look like "
            "ws://HOST:PORT/v1 (or wss://...). Set it with --mailbox URL or P2PCHAT_MAILBOX."
        )


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _decode_frame(raw: str | bytes, url: str) -> dict[str, Any]:
    """Parse one server frame, accepting only a JSON object with a string ``type``."""
    if isinstance(raw, bytes):
        raise RemoteProtocolError(f"The mailbox server at {url} sent a binary frame.")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise RemoteProtocolError(f"The mailbox server at {url} sent invalid JSON.") from error
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise RemoteProtocolError(f"The mailbox server at {url} sent a frame without a type.")
    return frame
