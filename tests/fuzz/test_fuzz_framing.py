"""Fuzzing the frame decoder (``p2pchat.core.framing.decode_frame``).

Inputs: raw bytes, mutations of real encoded frames (the seed corpus: one of each
frame type, built with ``encode_frame``), and well-formed msgpack maps with
hostile field values. Every input must either decode to a frame that survives an
encode/decode round trip, or be refused with a ``P2PChatError``.
"""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core import framing
from p2pchat.core.framing import decode_frame, encode_frame
from tests.fuzz.conftest import assert_only_p2pchat_errors, mutated

SEED_FRAMES = [
    framing.Hello(),
    framing.Text(id="0123456789abcdef", text="hello, wörld 👋", sent_at=1700000000.5),
    framing.ImageHeader(
        id="0123456789abcdef",
        size=70000,
        sha256=bytes(range(32)),
        mime="image/jpeg",
        w=640,
        h=480,
        n=2,
        view_once=True,
        view_seconds=10.0,
    ),
    framing.Chunk(id="0123456789abcdef", seq=1, d=b"\xff\xd8" * 100),
    framing.Ack(id="0123456789abcdef"),
    framing.Opened(id="0123456789abcdef"),
    framing.Typing(),
    framing.Ping(nonce=b"12345678"),
    framing.Pong(nonce=b"12345678"),
    framing.Bye(),
    framing.Cancel(id="0123456789abcdef"),
]
SEEDS = [encode_frame(frame) for frame in SEED_FRAMES]
FAST = settings(max_examples=400, deadline=None, database=None)
LONG = settings(
    max_examples=20_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats()
    | st.text(max_size=40) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
frame_types = st.sampled_from([*(f.TYPE for f in SEED_FRAMES), "", "x", "text\x00"])
field_names = st.sampled_from(
    ["id", "text", "sent_at", "size", "sha256", "mime", "w", "h", "n", "view_once",
     "view_seconds", "seq", "d", "nonce", "t", "extra"]
)  # fmt: skip


@st.composite
def hostile_maps(draw: st.DrawFn) -> bytes:
    """A real frame's fields with some replaced, removed or added (valid msgpack)."""
    base = msgpack.unpackb(draw(st.sampled_from(SEEDS)), raw=False)
    for _ in range(draw(st.integers(1, 4))):
        name = draw(field_names)
        if draw(st.booleans()):
            base.pop(name, None)
        else:
            base[name] = draw(msgpack_values)
    if draw(st.booleans()):
        base["t"] = draw(frame_types)
    try:
        return bytes(msgpack.packb(base, use_bin_type=True))
    except (OverflowError, ValueError, TypeError):
        return b"\x80"


def check(data: bytes) -> None:
    result = assert_only_p2pchat_errors("decode_frame", lambda: decode_frame(data), data)
    if not isinstance(result, Exception):
        # Whatever the decoder accepts must be a frame we could send ourselves.
        assert decode_frame(encode_frame(result)) == result


def test_seeds_decode():
    for frame, data in zip(SEED_FRAMES, SEEDS, strict=True):
        assert decode_frame(data) == frame


@FAST
@given(st.binary(max_size=512))
def test_random_bytes(data):
    check(data)


@FAST
@given(mutated(SEEDS))
def test_mutated_frames(data):
    check(data)


@FAST
@given(hostile_maps())
def test_hostile_field_values(data):
    check(data)


@pytest.mark.slow
@LONG
@given(st.one_of(mutated(SEEDS, max_edits=16), hostile_maps(), st.binary(max_size=2048)))
def test_long_campaign(data):
    check(data)
