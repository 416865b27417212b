"""Events that ChatService emits to its front ends (TUI, headless, CLI).

Plain frozen dataclasses, no Textual: "messages up". Each has a ``kind`` used
as the JSON-lines event name by the headless interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from p2pchat.core.errors import P2PChatError, exit_code_of

Direction = Literal["in", "out"]
ConnectionKind = Literal["direct", "relay", "transit", "lan", "unknown"]


@dataclass(frozen=True)
class ServiceEvent:
    kind: ClassVar[str] = "event"


@dataclass(frozen=True)
class CodeReady(ServiceEvent):
    """An invite was allocated: read this code aloud to the other person."""

    kind: ClassVar[str] = "code"
    code: str
    expires_in: float


@dataclass(frozen=True)
class Paired(ServiceEvent):
    kind: ClassVar[str] = "paired"
    safety_number: str
    peer_fingerprint: str
    connection: ConnectionKind
    peer_view_once: bool
    peer_label: str = "peer"
    peer_identity: bytes = field(default=b"", repr=False)  # Ed25519 key, for pinning


@dataclass(frozen=True)
class TextReceived(ServiceEvent):
    kind: ClassVar[str] = "text"
    message_id: str
    text: str  # already a safe label: control characters and escapes removed
    sent_at: float


@dataclass(frozen=True)
class TransferStarted(ServiceEvent):
    kind: ClassVar[str] = "transfer"
    message_id: str
    direction: Direction
    total_bytes: int
    view_once: bool


@dataclass(frozen=True)
class TransferProgress(ServiceEvent):
    kind: ClassVar[str] = "progress"
    message_id: str
    direction: Direction
    done_bytes: int
    total_bytes: int
    bytes_per_second: float


@dataclass(frozen=True)
class ImageReceived(ServiceEvent):
    """A complete image, already re-sanitised by the receiver.

    For a view-once image ``data`` is empty and ``vault_id`` names the sealed
    item in the vault; front ends that do not honour view-once never get bytes.
    """

    kind: ClassVar[str] = "image"
    message_id: str
    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    view_once: bool
    view_seconds: float
    removed: tuple[str, ...] = ()  # what the receiver's sanitiser still had to strip
    vault_id: str | None = None
    # The same as findings (media.report.Finding), for front ends that word them
    # in the reader's language; ``removed`` keeps the English sentences for scripts.
    findings: tuple[Any, ...] = field(default=(), metadata={"json": False})


@dataclass(frozen=True)
class ImageRejected(ServiceEvent):
    kind: ClassVar[str] = "rejected"
    message_id: str
    reason: str


@dataclass(frozen=True)
class Delivered(ServiceEvent):
    """The peer acknowledged a message or a complete image."""

    kind: ClassVar[str] = "delivered"
    message_id: str


@dataclass(frozen=True)
class Opened(ServiceEvent):
    """The peer opened (and closed) a view-once image we sent."""

    kind: ClassVar[str] = "opened"
    message_id: str


@dataclass(frozen=True)
class ViewOnceRefused(ServiceEvent):
    """The peer cannot honour view-once: it got a placeholder, never the image."""

    kind: ClassVar[str] = "view_once_refused"
    message_id: str


@dataclass(frozen=True)
class TransferCancelled(ServiceEvent):
    kind: ClassVar[str] = "cancelled"
    message_id: str
    direction: Direction
    by_peer: bool


@dataclass(frozen=True)
class TimerChanged(ServiceEvent):
    """The disappearing-message timer changed (0: off); both sides apply it."""

    kind: ClassVar[str] = "timer"
    seconds: int
    by_peer: bool


@dataclass(frozen=True)
class PeerTyping(ServiceEvent):
    kind: ClassVar[str] = "typing"


@dataclass(frozen=True)
class RoundTrip(ServiceEvent):
    kind: ClassVar[str] = "rtt"
    seconds: float


@dataclass(frozen=True)
class ConnectionChanged(ServiceEvent):
    kind: ClassVar[str] = "connection"
    state: Literal["pairing", "reconnecting", "connecting", "connected", "lost", "closed"]
    connection: ConnectionKind = "unknown"


@dataclass(frozen=True)
class PeerLeft(ServiceEvent):
    kind: ClassVar[str] = "peer_left"
    reason: str


@dataclass(frozen=True)
class Notice(ServiceEvent):
    """Something the user should know that does not stop the session (a moved meeting point).

    ``message`` is English (for logs and JSON); front ends word ``key`` (a catalogue
    key) with ``params`` in the reader's language.
    """

    kind: ClassVar[str] = "notice"
    message: str
    key: str = field(default="", metadata={"json": False})
    params: Mapping[str, object] = field(default_factory=dict, metadata={"json": False})


@dataclass(frozen=True)
class Failed(ServiceEvent):
    """A fatal error: the session is over. ``exit_code`` follows the CLI's table.

    ``message`` is the error's English; ``reason`` and ``params`` are its stable
    reason (``core/errors.py``), which front ends word in the reader's language.
    """

    kind: ClassVar[str] = "error"
    message: str
    exit_code: int
    reason: str = field(default="", metadata={"json": False})
    params: Mapping[str, object] = field(default_factory=dict, metadata={"json": False})


def failure(error: BaseException, exit_code: int | None = None) -> Failed:
    """The ``Failed`` event of ``error``: its message, exit code and reason."""
    code = exit_code_of(error) if exit_code is None else exit_code
    if isinstance(error, P2PChatError):
        return Failed(str(error), code, error.reason, dict(error.params))
    return Failed(str(error), code)


@dataclass(frozen=True)
class Closed(ServiceEvent):
    kind: ClassVar[str] = "closed"


def event_to_json(event: ServiceEvent) -> dict[str, Any]:
    """The JSON-lines shape of an event (bytes are never included)."""
    from dataclasses import fields

    out: dict[str, Any] = {"event": event.kind}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, bytes | bytearray | memoryview) or not f.metadata.get("json", True):
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
