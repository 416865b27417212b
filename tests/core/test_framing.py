"""Framing: every frame type round-trips, and the decoder refuses anything else."""

from __future__ import annotations

import hashlib

import msgpack
import pytest

from p2pchat.core import framing as fr
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError

ID = "0123456789abcdef"
DATA = b"\x89PNG" + bytes(200)

EXAMPLES: list[fr.Frame] = [
    fr.Hello(),
    fr.Text(ID, "hi ✓ \U0001f600", 1_700_000_000.5),
    fr.ImageHeader(ID, len(DATA), hashlib.sha256(DATA).digest(), "image/png", 3, 4, 1, True, 7.5),
    fr.ImageHeader(ID, fr.CHUNK_SIZE * 3 + 1, bytes(32), "image/jpeg", 1, 65535, 4, False, 10.0),
    fr.Chunk(ID, 0, DATA),
    fr.Chunk(ID, 5, bytes(fr.CHUNK_SIZE)),
    fr.Ack(ID),
    fr.Opened(ID),
    fr.Typing(),
    fr.Ping(b"12345678"),
    fr.Pong(b"87654321"),
    fr.Bye(),
    fr.Cancel(ID),
]


@pytest.mark.parametrize("frame", EXAMPLES, ids=lambda f: f.TYPE)
def test_every_frame_type_round_trips(frame: fr.Frame) -> None:
    encoded = fr.encode_frame(frame)
    assert len(encoded) <= fr.MAX_FRAME_BYTES
    assert fr.decode_frame(encoded) == frame
    assert msgpack.unpackb(encoded)["t"] == frame.TYPE


def test_full_chunk_fits_in_one_frame() -> None:
    assert len(fr.encode_frame(fr.Chunk(ID, fr.MAX_CHUNKS - 1, bytes(fr.CHUNK_SIZE)))) < (
        fr.MAX_FRAME_BYTES
    )


def test_chunk_arithmetic() -> None:
    assert fr.chunk_count(1) == 1
    assert fr.chunk_count(fr.CHUNK_SIZE) == 1
    assert fr.chunk_count(fr.CHUNK_SIZE + 1) == 2
    assert fr.chunk_length(fr.CHUNK_SIZE + 1, 0) == fr.CHUNK_SIZE
    assert fr.chunk_length(fr.CHUNK_SIZE + 1, 1) == 1


def test_ids_are_short_hex_and_validated() -> None:
    new = fr.new_id(lambda n: bytes(range(n)))
    assert new == "0001020304050607"
    assert fr.is_valid_id(new)
    for bad in ["", "0123", "0123456789ABCDEF", "0123456789abcdeg", ID + "\n", ID + "0", 5]:
        assert not fr.is_valid_id(bad)


def packed(body: object) -> bytes:
    return bytes(msgpack.packb(body, use_bin_type=True))


GOOD_TEXT = {"t": "text", "id": ID, "text": "hi", "sent_at": 1.0}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never-used msgpack byte
        packed([1, 2]),
        packed("text"),
        packed({"id": ID}),  # no type
        packed({"t": 1}),
        packed({"t": "nope"}),
        packed({1: "int key", "t": "typing"}),
        packed(GOOD_TEXT) + b"\x00",  # trailing bytes
        packed(GOOD_TEXT)[:-1],  # truncated
        packed({**GOOD_TEXT, "text": None}),
        packed({**GOOD_TEXT, "sent_at": float("inf")}),
        packed({**GOOD_TEXT, "sent_at": -1.0}),
        packed({**GOOD_TEXT, "sent_at": True}),
        packed({**GOOD_TEXT, "id": ID.upper()}),
        packed({**GOOD_TEXT, "extra": 1}),
        packed({"t": "chunk", "id": ID, "seq": -1, "d": b"x"}),
        packed({"t": "chunk", "id": ID, "seq": 0, "d": b""}),
        packed({"t": "chunk", "id": ID, "seq": 0, "d": "str"}),
        packed({"t": "chunk", "id": ID, "seq": False, "d": b"x"}),
        packed({"t": "ping", "nonce": b"1234567"}),
        packed({"t": "typing", "t2": {"nested": {"deep": 1}}}),
        packed({"t": "hello", "x": msgpack.ExtType(5, b"ext")}),
        packed({"t": "hello", "x": msgpack.Timestamp(1, 0)}),
        b"\x81\xa1t" + b"\x81\xa1t" * 5000 + b"\xc0",  # deeply nested maps
        b"\x81\xa1t\xa5hello" + b"\x00" * 10,
        b"\x81\xa1t\xa3\xff\xfe\xfd",  # invalid UTF-8
        b"\xdf\xff\xff\xff\xff",  # map claiming 4 billion entries
        b"\xdb\xff\xff\xff\xff",  # string claiming 4 GB
        bytes(fr.MAX_FRAME_BYTES + 1),
    ],
)
def test_malformed_frames_are_remote_protocol_errors(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        fr.decode_frame(data)


def test_image_header_invariants_are_checked() -> None:
    header = {
        "t": "img",
        "id": ID,
        "size": 100,
        "sha256": bytes(32),
        "mime": "image/png",
        "w": 1,
        "h": 1,
        "n": 1,
        "view_once": False,
        "view_seconds": 10.0,
    }
    assert isinstance(fr.decode_frame(packed(header)), fr.ImageHeader)
    for change in [
        {"n": 2},
        {"size": 0},
        {"size": fr.MAX_IMAGE_BYTES + 1},
        {"mime": "image/gif"},
        {"mime": "text/html"},
        {"w": 0},
        {"h": 65536},
        {"view_seconds": 0.5},
        {"view_seconds": 601},
        {"view_once": "yes"},
        {"sha256": bytes(31)},
    ]:
        with pytest.raises(RemoteProtocolError):
            fr.decode_frame(packed({**header, **change}))


def test_integer_view_seconds_is_accepted_as_float() -> None:
    body = {
        "t": "img",
        "id": ID,
        "size": 1,
        "sha256": bytes(32),
        "mime": "image/jpeg",
        "w": 1,
        "h": 1,
        "n": 1,
        "view_once": True,
        "view_seconds": 10,
    }
    frame = fr.decode_frame(packed(body))
    assert isinstance(frame, fr.ImageHeader) and frame.view_seconds == 10.0


@pytest.mark.parametrize(
    "frame",
    [
        fr.Text("bad id", "x", 1.0),
        fr.Chunk(ID, 0, bytes(fr.CHUNK_SIZE + 1)),
        fr.ImageHeader(ID, 10, bytes(32), "image/gif", 1, 1, 1, False, 10.0),
        fr.ImageHeader(ID, 10, bytes(32), "image/png", 1, 1, 2, False, 10.0),
        fr.Ping(b"short"),
    ],
)
def test_encoder_refuses_frames_the_decoder_would_refuse(frame: fr.Frame) -> None:
    with pytest.raises(LocalProtocolError):
        fr.encode_frame(frame)


def test_a_bye_may_say_why_and_a_plain_bye_is_unchanged_on_the_wire() -> None:
    """Issue 20 §5: the side that could not keep a contact says so in its goodbye."""
    import msgpack

    from p2pchat.core import framing as fr

    assert msgpack.unpackb(fr.encode_frame(fr.Bye())) == {"t": "bye"}
    told = fr.decode_frame(fr.encode_frame(fr.Bye("could not save you as a contact")))
    assert told == fr.Bye("could not save you as a contact")
    too_long = msgpack.packb({"t": "bye", "reason": "x" * (fr.MAX_BYE_REASON_CHARS + 1)})
    for hostile in (
        too_long,
        msgpack.packb({"t": "bye", "reason": ""}),
        msgpack.packb({"t": "bye", "reason": 7}),
        msgpack.packb({"t": "bye", "why": "x"}),
    ):
        with pytest.raises(RemoteProtocolError):
            fr.decode_frame(hostile)
