"""Wire frames of the encrypted session: types, msgpack encoding, strict decoding.

Every data-channel message is one secretstream message whose plaintext is one
msgpack map ``{"t": type, ...}`` (DESIGN.md section 4). This module owns the
frame dataclasses and the codec; ``session.py`` owns what the frames mean.

Decoding is strict on purpose: a frame comes from a peer we do not trust, so
sizes are capped inside the msgpack decoder, extension types are refused, the
key set of each type is exact and every field is type- and range-checked. Any
violation is a ``RemoteProtocolError``, never a crash.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, NoReturn

import msgpack

from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.timer import MAX_TIMER_SECONDS
from p2pchat.core.timer import TIMER_SECONDS as TIMER_SECONDS  # re-exported: the session checks it

# 60 KiB of image data per chunk keeps every ciphertext under 64 KiB, the largest
# message every aiortc version delivers in one piece.
CHUNK_SIZE: Final = 60 * 1024
# Room for the map keys, the id and the seq around a full chunk.
MAX_FRAME_BYTES: Final = CHUNK_SIZE + 1024
# The most any image header may declare, whatever the receiver's own limit is.
MAX_IMAGE_BYTES: Final = 1 << 31
MAX_CHUNKS: Final = -(-MAX_IMAGE_BYTES // CHUNK_SIZE)
MAX_IMAGE_SIDE: Final = 65535
MAX_VIEW_SECONDS: Final = 600.0
MIN_VIEW_SECONDS: Final = 1.0
ALLOWED_MIMES: Final = frozenset({"image/jpeg", "image/png"})
SHA256_SIZE: Final = 32
NONCE_SIZE: Final = 8
ID_BYTES: Final = 8
ID_HEX_CHARS: Final = 2 * ID_BYTES
_MAX_KEYS: Final = 12

_ID_PATTERN: Final = re.compile(r"[0-9a-f]{%d}" % ID_HEX_CHARS)  # noqa: UP031 - regex braces


def new_id(random: Callable[[int], bytes]) -> str:
    """A fresh message id: short random lowercase hex."""
    return random(ID_BYTES).hex()


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_PATTERN.fullmatch(value) is not None


def chunk_count(size: int) -> int:
    """How many chunks carry an image of ``size`` bytes (every chunk full but the last)."""
    return -(-size // CHUNK_SIZE)


def chunk_length(size: int, seq: int) -> int:
    """The exact length chunk ``seq`` of an image of ``size`` bytes must have."""
    return min(CHUNK_SIZE, size - seq * CHUNK_SIZE)


@dataclass(frozen=True)
class Hello:
    """The first frame on each channel: proves the peer holds the matching key."""

    TYPE: ClassVar[str] = "hello"


@dataclass(frozen=True)
class Text:
    TYPE: ClassVar[str] = "text"
    id: str
    text: str
    sent_at: float


@dataclass(frozen=True)
class ImageHeader:
    """Announces one image; its chunks follow on the DATA channel."""

    TYPE: ClassVar[str] = "img"
    id: str
    size: int
    sha256: bytes
    mime: str
    w: int
    h: int
    n: int
    view_once: bool
    view_seconds: float


@dataclass(frozen=True)
class Chunk:
    TYPE: ClassVar[str] = "chunk"
    id: str
    seq: int
    d: bytes


@dataclass(frozen=True)
class Ack:
    """The peer received a text, or a complete image that passed its checks."""

    TYPE: ClassVar[str] = "ack"
    id: str


@dataclass(frozen=True)
class Opened:
    """The peer opened (and closed) a view-once image."""

    TYPE: ClassVar[str] = "opened"
    id: str


@dataclass(frozen=True)
class Typing:
    TYPE: ClassVar[str] = "typing"


@dataclass(frozen=True)
class Ping:
    TYPE: ClassVar[str] = "ping"
    nonce: bytes


@dataclass(frozen=True)
class Pong:
    TYPE: ClassVar[str] = "pong"
    nonce: bytes


@dataclass(frozen=True)
class Bye:
    TYPE: ClassVar[str] = "bye"
    # Why the sender ends the session, when it is not a plain goodbye (it could not
    # keep this contact, ...). Left off the wire when empty, so a plain bye is unchanged.
    reason: str = ""


@dataclass(frozen=True)
class Cancel:
    TYPE: ClassVar[str] = "cancel"
    id: str


@dataclass(frozen=True)
class Timer:
    """Either side sets the conversation's disappearing-message timer; both apply it."""

    TYPE: ClassVar[str] = "timer"
    seconds: int


Frame = (
    Hello | Text | ImageHeader | Chunk | Ack | Opened | Typing | Ping | Pong | Bye | Cancel | Timer
)


def encode_frame(frame: Frame) -> bytes:
    """The msgpack bytes of one frame (validated, so we never send what we would refuse)."""
    fields = _fields_of(frame)
    try:
        _check_frame(_DECODERS[frame.TYPE](fields))
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"refusing to send an invalid frame: {exc}") from exc
    return bytes(msgpack.packb({"t": frame.TYPE, **fields}, use_bin_type=True))


def decode_frame(data: bytes) -> Frame:
    """Parse one frame; anything malformed, unknown or out of range is a RemoteProtocolError."""
    if len(data) > MAX_FRAME_BYTES:
        raise RemoteProtocolError(
            f"the peer sent a frame of {len(data)} bytes; the limit is {MAX_FRAME_BYTES}"
        )
    try:
        body = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_refuse_ext,
            max_str_len=MAX_FRAME_BYTES,
            max_bin_len=MAX_FRAME_BYTES,
            max_array_len=0,
            max_map_len=_MAX_KEYS,
            max_ext_len=0,
        )
    # The decoder is third-party code fed by the peer: whatever it raises
    # (ValueError, StackError, UnicodeDecodeError, ExtraData, ...) means "bad frame".
    except Exception as exc:
        raise RemoteProtocolError("the peer sent a frame that is not valid msgpack") from exc
    if not isinstance(body, dict):
        raise RemoteProtocolError("the peer sent a frame that is not a map")
    kind = body.get("t")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise RemoteProtocolError(f"the peer sent an unknown frame type {_label(kind)}")
    fields = {key: value for key, value in body.items() if key != "t"}
    frame = decoder(fields)
    _check_frame(frame)
    return frame


def _refuse_ext(code: int, data: bytes) -> NoReturn:
    raise RemoteProtocolError("the peer sent a msgpack extension type, which p2pchat never uses")


def _label(value: object) -> str:
    """A short printable description of a peer value for error messages."""
    if isinstance(value, str):
        return repr(value[:32])
    return type(value).__name__


def _fields_of(frame: Frame) -> dict[str, Any]:
    fields = {item.name: getattr(frame, item.name) for item in dataclasses.fields(frame)}
    if isinstance(frame, Bye) and not frame.reason:
        del fields["reason"]
    return fields


def _expect_keys(kind: str, fields: Mapping[str, Any], keys: frozenset[str]) -> None:
    if fields.keys() != keys:
        raise RemoteProtocolError(
            f"the peer sent a '{kind}' frame with fields {sorted(fields)}; expected {sorted(keys)}"
        )


def _fail(kind: str, name: str, why: str) -> NoReturn:
    raise RemoteProtocolError(f"the peer sent a '{kind}' frame whose '{name}' {why}")


def _get_id(kind: str, fields: Mapping[str, Any]) -> str:
    value = fields["id"]
    if not is_valid_id(value):
        _fail(kind, "id", f"is not {ID_HEX_CHARS} lowercase hex characters")
    assert isinstance(value, str)
    return value


def _get_int(kind: str, fields: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = fields[name]
    # bool is an int in Python, but never a valid count or size on the wire.
    if not isinstance(value, int) or isinstance(value, bool):
        _fail(kind, name, "is not an integer")
    if not low <= value <= high:
        _fail(kind, name, f"is {value}, outside {low}..{high}")
    return value


def _get_float(kind: str, fields: Mapping[str, Any], name: str, low: float, high: float) -> float:
    value = fields[name]
    if not isinstance(value, int | float) or isinstance(value, bool):
        _fail(kind, name, "is not a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        _fail(kind, name, f"is out of range {low}..{high}")
    return number


def _get_bytes(kind: str, fields: Mapping[str, Any], name: str, low: int, high: int) -> bytes:
    value = fields[name]
    if not isinstance(value, bytes):
        _fail(kind, name, "is not binary")
    if not low <= len(value) <= high:
        _fail(kind, name, f"has {len(value)} bytes, outside {low}..{high}")
    return value


def _get_bool(kind: str, fields: Mapping[str, Any], name: str) -> bool:
    value = fields[name]
    if not isinstance(value, bool):
        _fail(kind, name, "is not true or false")
    return value


def _get_str(kind: str, fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        _fail(kind, name, "is not a string")
    return value


_NO_FIELDS: Final = frozenset[str]()
_ID_ONLY: Final = frozenset({"id"})
_NONCE_ONLY: Final = frozenset({"nonce"})
_REASON_ONLY: Final = frozenset({"reason"})
#: A bye's reason is one sentence for the other person, not a message channel.
MAX_BYE_REASON_CHARS: Final = 300
_TEXT_KEYS: Final = frozenset({"id", "text", "sent_at"})
_IMG_KEYS: Final = frozenset(
    {"id", "size", "sha256", "mime", "w", "h", "n", "view_once", "view_seconds"}
)
_CHUNK_KEYS: Final = frozenset({"id", "seq", "d"})
# sent_at is the sender's wall clock: any finite, non-negative time up to year ~5000.
_MAX_TIMESTAMP: Final = 1e11


def _decode_hello(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("hello", fields, _NO_FIELDS)
    return Hello()


def _decode_text(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("text", fields, _TEXT_KEYS)
    return Text(
        id=_get_id("text", fields),
        text=_get_str("text", fields, "text"),
        sent_at=_get_float("text", fields, "sent_at", 0.0, _MAX_TIMESTAMP),
    )


def _decode_img(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("img", fields, _IMG_KEYS)
    return ImageHeader(
        id=_get_id("img", fields),
        size=_get_int("img", fields, "size", 1, MAX_IMAGE_BYTES),
        sha256=_get_bytes("img", fields, "sha256", SHA256_SIZE, SHA256_SIZE),
        mime=_get_str("img", fields, "mime"),
        w=_get_int("img", fields, "w", 1, MAX_IMAGE_SIDE),
        h=_get_int("img", fields, "h", 1, MAX_IMAGE_SIDE),
        n=_get_int("img", fields, "n", 1, MAX_CHUNKS),
        view_once=_get_bool("img", fields, "view_once"),
        view_seconds=_get_float("img", fields, "view_seconds", MIN_VIEW_SECONDS, MAX_VIEW_SECONDS),
    )


def _decode_chunk(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("chunk", fields, _CHUNK_KEYS)
    return Chunk(
        id=_get_id("chunk", fields),
        seq=_get_int("chunk", fields, "seq", 0, MAX_CHUNKS - 1),
        d=_get_bytes("chunk", fields, "d", 1, CHUNK_SIZE),
    )


def _decode_ack(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("ack", fields, _ID_ONLY)
    return Ack(id=_get_id("ack", fields))


def _decode_opened(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("opened", fields, _ID_ONLY)
    return Opened(id=_get_id("opened", fields))


def _decode_typing(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("typing", fields, _NO_FIELDS)
    return Typing()


def _decode_ping(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("ping", fields, _NONCE_ONLY)
    return Ping(nonce=_get_bytes("ping", fields, "nonce", NONCE_SIZE, NONCE_SIZE))


def _decode_pong(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("pong", fields, _NONCE_ONLY)
    return Pong(nonce=_get_bytes("pong", fields, "nonce", NONCE_SIZE, NONCE_SIZE))


def _decode_bye(fields: Mapping[str, Any]) -> Frame:
    if not fields:
        return Bye()
    _expect_keys("bye", fields, _REASON_ONLY)
    reason = _get_str("bye", fields, "reason")
    if not reason or len(reason) > MAX_BYE_REASON_CHARS:
        _fail("bye", "reason", f"is empty or longer than {MAX_BYE_REASON_CHARS} characters")
    return Bye(reason)


def _decode_cancel(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("cancel", fields, _ID_ONLY)
    return Cancel(id=_get_id("cancel", fields))


def _decode_timer(fields: Mapping[str, Any]) -> Frame:
    _expect_keys("timer", fields, frozenset({"seconds"}))
    seconds = _get_int("timer", fields, "seconds", 0, MAX_TIMER_SECONDS)
    if seconds not in TIMER_SECONDS:
        _fail("timer", "seconds", "is not one of the offered timer settings")
    return Timer(seconds=seconds)


_DECODERS: Final[dict[str, Callable[[Mapping[str, Any]], Frame]]] = {
    Hello.TYPE: _decode_hello,
    Text.TYPE: _decode_text,
    ImageHeader.TYPE: _decode_img,
    Chunk.TYPE: _decode_chunk,
    Ack.TYPE: _decode_ack,
    Opened.TYPE: _decode_opened,
    Typing.TYPE: _decode_typing,
    Ping.TYPE: _decode_ping,
    Pong.TYPE: _decode_pong,
    Bye.TYPE: _decode_bye,
    Cancel.TYPE: _decode_cancel,
    Timer.TYPE: _decode_timer,
}


def _check_frame(frame: Frame) -> None:
    """Invariants across fields (the per-field checks live in the decoders)."""
    if isinstance(frame, ImageHeader):
        if frame.mime not in ALLOWED_MIMES:
            raise RemoteProtocolError(
                f"the peer offered an image of type {_label(frame.mime)}; only JPEG and PNG "
                "are accepted"
            )
        if frame.n != chunk_count(frame.size):
            raise RemoteProtocolError(
                f"the peer declared {frame.n} chunks for {frame.size} bytes; "
                f"{chunk_count(frame.size)} are needed"
            )
