"""The codec of the encrypted session's wire frames: msgpack encoding, strict decoding.

Every data-channel message is one secretstream message whose plaintext is one
msgpack map ``{"t": type, ...}`` (DESIGN.md section 4). The frame types and their
limits live in ``frames.py`` (and are importable from here, as they always were);
this module owns the codec, and ``session.py`` what the frames mean.

Decoding is strict on purpose: a frame comes from a peer we do not trust, so
sizes are capped inside the msgpack decoder, extension types are refused, the
key set of each type is exact and every field is type- and range-checked. Any
violation is a ``RemoteProtocolError``, never a crash.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

import msgpack

from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.frames import (
    ALLOWED_MIMES,
    CHUNK_SIZE,
    ID_BYTES,
    ID_HEX_CHARS,
    MAX_CHUNKS,
    MAX_FRAME_BYTES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MAX_TIMER_SECONDS,
    MAX_VIEW_SECONDS,
    MIN_VIEW_SECONDS,
    NONCE_SIZE,
    SHA256_SIZE,
    TIMER_SECONDS,
    Ack,
    Bye,
    Cancel,
    Chunk,
    Frame,
    Hello,
    ImageHeader,
    Opened,
    Ping,
    Pong,
    Text,
    Timer,
    Typing,
    chunk_count,
    chunk_length,
    is_valid_id,
    new_id,
)

_MAX_KEYS: Final = 12  # the most keys any frame type has, checked inside the decoder


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


__all__ = [
    "ALLOWED_MIMES",
    "CHUNK_SIZE",
    "ID_BYTES",
    "ID_HEX_CHARS",
    "MAX_BYE_REASON_CHARS",
    "MAX_CHUNKS",
    "MAX_FRAME_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "MAX_TIMER_SECONDS",
    "MAX_VIEW_SECONDS",
    "MIN_VIEW_SECONDS",
    "NONCE_SIZE",
    "SHA256_SIZE",
    "TIMER_SECONDS",
    "Ack",
    "Bye",
    "Cancel",
    "Chunk",
    "Frame",
    "Hello",
    "ImageHeader",
    "Opened",
    "Ping",
    "Pong",
    "Text",
    "Timer",
    "Typing",
    "chunk_count",
    "chunk_length",
    "decode_frame",
    "encode_frame",
    "is_valid_id",
    "new_id",
]
