"""Property tests: frames round-trip, and nothing a peer sends escapes as a non-P2PChatError.

The default run is fast (~300 examples per property); ``-m slow`` runs the same
properties with at least 10,000 examples each.
"""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from helpers import FakeClock, RawPeer, make_key_pair
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from p2pchat.core import framing as fr
from p2pchat.core.errors import LocalProtocolError, P2PChatError
from p2pchat.core.keys import Channel, Limits
from p2pchat.core.session import Session, SessionState

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A few ids only, so that generated chunks, acks and cancels hit generated headers.
ids = st.sampled_from(["00" * 8, "11" * 8, "0123456789abcdef"])
nonces = st.binary(min_size=fr.NONCE_SIZE, max_size=fr.NONCE_SIZE)
timestamps = st.floats(min_value=0.0, max_value=1e11, allow_nan=False)
view_seconds = st.floats(min_value=fr.MIN_VIEW_SECONDS, max_value=fr.MAX_VIEW_SECONDS)


@st.composite
def image_headers(draw: st.DrawFn) -> fr.ImageHeader:
    size = draw(st.integers(1, fr.MAX_IMAGE_BYTES) | st.integers(1, 3 * fr.CHUNK_SIZE))
    return fr.ImageHeader(
        id=draw(ids),
        size=size,
        sha256=draw(st.binary(min_size=32, max_size=32)),
        mime=draw(st.sampled_from(sorted(fr.ALLOWED_MIMES))),
        w=draw(st.integers(1, fr.MAX_IMAGE_SIDE)),
        h=draw(st.integers(1, fr.MAX_IMAGE_SIDE)),
        n=fr.chunk_count(size),
        view_once=draw(st.booleans()),
        view_seconds=draw(view_seconds),
    )


frames: st.SearchStrategy[fr.Frame] = st.one_of(
    st.just(fr.Hello()),
    st.builds(fr.Text, ids, st.text(max_size=200), timestamps),
    image_headers(),
    st.builds(
        fr.Chunk,
        ids,
        st.integers(0, 4),
        st.binary(min_size=1, max_size=300) | st.just(bytes(fr.CHUNK_SIZE)),
    ),
    st.builds(fr.Ack, ids),
    st.builds(fr.Opened, ids),
    st.just(fr.Typing()),
    st.builds(fr.Ping, nonces),
    st.builds(fr.Pong, nonces),
    st.just(fr.Bye()),
    st.builds(fr.Cancel, ids),
)

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELD_NAMES = [
    "id",
    "text",
    "sent_at",
    "size",
    "sha256",
    "mime",
    "w",
    "h",
    "n",
    "view_once",
    "view_seconds",
    "seq",
    "d",
    "nonce",
    "x",
]
field_values = msgpack_values | ids | nonces | st.integers(-2, 70000)
hostile_bodies = st.builds(
    lambda kind, rest: {**rest, "t": kind},
    st.sampled_from(
        [
            "hello",
            "typing",
            "bye",
            "text",
            "img",
            "chunk",
            "ack",
            "opened",
            "ping",
            "pong",
            "cancel",
            "other",
        ]
    ),
    st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=10),
)


def packed(body: object) -> bytes:
    return bytes(msgpack.packb(body, use_bin_type=True))


def mutated(data: bytes, position: int, byte: int) -> bytes:
    if not data:
        return bytes([byte])
    position %= len(data)
    return data[:position] + bytes([byte]) + data[position + 1 :]


plaintexts = st.one_of(
    st.binary(max_size=400),
    frames.map(fr.encode_frame),
    hostile_bodies.map(packed),
    msgpack_values.map(packed),
    st.builds(mutated, frames.map(fr.encode_frame), st.integers(0, 10_000), st.integers(0, 255)),
)


# ---------------------------------------------------------------------- properties


def check_round_trip(frame: fr.Frame) -> None:
    assert fr.decode_frame(fr.encode_frame(frame)) == frame


def check_decode_never_crashes(data: bytes) -> None:
    try:
        frame = fr.decode_frame(data)
    except P2PChatError:
        return
    # Whatever was accepted must be a frame we would also send.
    assert fr.decode_frame(fr.encode_frame(frame)) == frame


# What the raw peer does before the fuzzed messages, per channel.
PREFIXES = ["nothing", "header", "opened", "opened"]


def check_session_never_crashes(
    prefix_control: str, prefix_data: str, inputs: list[tuple[Channel, bool, bytes, bool]]
) -> None:
    """Each input: (channel, encrypt it with the real key?, bytes, final tag?)."""
    keys_a, keys_b = make_key_pair()
    victim = Session(keys_b, limits=Limits(max_image_bytes=4 * fr.CHUNK_SIZE), clock=FakeClock())
    peer = RawPeer(keys_a)
    for channel, prefix in ((Channel.CONTROL, prefix_control), (Channel.DATA, prefix_data)):
        if prefix != "nothing":
            victim.receive_data(*peer.header(channel))
        if prefix == "opened":
            victim.receive_data(*peer.frame(channel, fr.Hello()))
    failed = False
    for channel, encrypt, data, final in inputs:
        if encrypt and final:
            message = peer.raw(channel, data, final)
            # A finished stream pushes no more: later input comes from a fresh (unknown) one.
            peer.senders[channel] = RawPeer(keys_a).senders[channel]
        else:
            message = peer.raw(channel, data) if encrypt else (channel, data)
        try:
            victim.receive_data(*message)
        except LocalProtocolError:
            assert failed, "LocalProtocolError only after the session already failed"
        except P2PChatError as exc:
            event(f"rejected: {type(exc).__name__}")
            assert victim.state is SessionState.ERROR
            assert victim.incoming_buffer_bytes == 0
            failed = True
        # Commands and output never crash whatever the peer did.
        for happened in victim.events():
            event(f"event: {type(happened).__name__}")  # --hypothesis-show-statistics
        while victim.next_frame() is not None:
            pass
    assert victim.incoming_buffer_bytes <= 4 * fr.CHUNK_SIZE


DATA_FRAMES = (fr.ImageHeader, fr.Chunk)


def on_its_channel(frame: fr.Frame) -> tuple[Channel, bool, bytes, bool]:
    """A well-formed frame, encrypted, on the channel a real peer would use."""
    channel = Channel.DATA if isinstance(frame, DATA_FRAMES) else Channel.CONTROL
    return channel, True, fr.encode_frame(frame), isinstance(frame, fr.Bye)


session_inputs = st.lists(
    st.tuples(
        st.sampled_from(Channel),
        st.sampled_from([True, True, True, False]),
        plaintexts,
        st.sampled_from([False, False, False, True]),
    )
    | frames.map(on_its_channel),
    max_size=12,
)


@st.composite
def image_transfers(draw: st.DrawFn) -> list[tuple[Channel, bool, bytes, bool]]:
    """A valid-looking image followed by a lightly corrupted stream of its chunks."""
    data = draw(st.binary(min_size=1, max_size=2 * fr.CHUNK_SIZE + 10))
    image_id = draw(ids)
    header = fr.ImageHeader(
        image_id,
        len(data),
        hashlib.sha256(data).digest(),
        "image/png",
        10,
        10,
        fr.chunk_count(len(data)),
        draw(st.booleans()),
        10.0,
    )
    chunks = [
        fr.Chunk(image_id, seq, data[seq * fr.CHUNK_SIZE : (seq + 1) * fr.CHUNK_SIZE])
        for seq in range(header.n)
    ]
    body: list[fr.Frame] = [header, *chunks]
    body = draw(st.permutations(body)) if draw(st.booleans()) else body
    extra = draw(st.lists(frames, max_size=3))
    out = [(Channel.DATA, True, fr.encode_frame(f), False) for f in [*body, *extra]]
    return out


# -------------------------------------------------------------- fast default runs


@FAST
@given(frames)
def test_frames_round_trip(frame: fr.Frame) -> None:
    check_round_trip(frame)


@FAST
@given(st.binary(max_size=600) | plaintexts)
def test_decode_frame_raises_only_p2pchat_errors(data: bytes) -> None:
    check_decode_never_crashes(data)


@FAST
@given(st.sampled_from(PREFIXES), st.sampled_from(PREFIXES), session_inputs)
def test_session_receive_data_raises_only_p2pchat_errors(
    prefix_control: str, prefix_data: str, inputs: list[tuple[Channel, bool, bytes, bool]]
) -> None:
    check_session_never_crashes(prefix_control, prefix_data, inputs)


@FAST
@given(image_transfers())
def test_session_survives_reordered_image_streams(
    inputs: list[tuple[Channel, bool, bytes, bool]],
) -> None:
    check_session_never_crashes("opened", "opened", inputs)


# ---------------------------------------------------------- long campaigns (-m slow)


@pytest.mark.slow
@SLOW
@given(frames)
def test_frames_round_trip_long(frame: fr.Frame) -> None:
    check_round_trip(frame)


@pytest.mark.slow
@SLOW
@given(st.binary(max_size=600) | plaintexts)
def test_decode_frame_raises_only_p2pchat_errors_long(data: bytes) -> None:
    check_decode_never_crashes(data)


@pytest.mark.slow
@SLOW
@given(st.sampled_from(PREFIXES), st.sampled_from(PREFIXES), session_inputs)
def test_session_receive_data_raises_only_p2pchat_errors_long(
    prefix_control: str, prefix_data: str, inputs: list[tuple[Channel, bool, bytes, bool]]
) -> None:
    check_session_never_crashes(prefix_control, prefix_data, inputs)


@pytest.mark.slow
@SLOW
@given(image_transfers())
def test_session_survives_reordered_image_streams_long(
    inputs: list[tuple[Channel, bool, bytes, bool]],
) -> None:
    check_session_never_crashes("opened", "opened", inputs)
