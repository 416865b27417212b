"""Session: two real sessions over an in-memory wire, and forged frames from a raw peer."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest
from helpers import (
    FakeClock,
    RawPeer,
    converse,
    deliver,
    drain,
    events_of,
    make_key_pair,
    make_pair,
    opened_victim,
)

from p2pchat.core import framing as fr
from p2pchat.core.errors import (
    DecryptError,
    ImageRejected,
    LocalProtocolError,
    RemoteProtocolError,
)
from p2pchat.core.keys import Capabilities, Channel, Limits
from p2pchat.core.session import (
    Acknowledged,
    ChunkProgress,
    ImageCancelled,
    ImageComplete,
    ImageOffered,
    Opened,
    PeerBye,
    PongReceived,
    Session,
    SessionState,
    TextReceived,
    TypingReceived,
)

IMAGE = os.urandom(300_000)  # 5 full chunks and a partial one
SMALL = os.urandom(1000)


def image_header(data: bytes, image_id: str = "00" * 8, **overrides: object) -> fr.ImageHeader:
    fields: dict[str, object] = {
        "id": image_id,
        "size": len(data),
        "sha256": hashlib.sha256(data).digest(),
        "mime": "image/jpeg",
        "w": 640,
        "h": 480,
        "n": fr.chunk_count(len(data)),
        "view_once": False,
        "view_seconds": 10.0,
    }
    fields.update(overrides)
    return fr.ImageHeader(**fields)  # type: ignore[arg-type]


def chunks_of(data: bytes, image_id: str = "00" * 8) -> list[fr.Chunk]:
    return [
        fr.Chunk(image_id, seq, data[seq * fr.CHUNK_SIZE : (seq + 1) * fr.CHUNK_SIZE])
        for seq in range(fr.chunk_count(len(data)))
    ]


# --------------------------------------------------------------------------- happy paths


def test_text_both_ways_is_delivered_and_acknowledged() -> None:
    pair = make_pair()
    id_a = pair.a.send_text("hello from A")
    id_b = pair.b.send_text("héllo from B ✓")
    converse(pair)
    b_events = pair.b.events()
    a_events = pair.a.events()
    assert TextReceived(id_a, "hello from A", pair.clock.now) in b_events
    assert TextReceived(id_b, "héllo from B ✓", pair.clock.now) in a_events
    assert Acknowledged(id_a) in a_events
    assert Acknowledged(id_b) in b_events
    assert pair.a.state is pair.b.state is SessionState.OPEN


def test_first_frames_are_stream_headers_then_hello() -> None:
    pair = make_pair()
    first = drain(pair.a)
    assert [channel for channel, _ in first] == [
        Channel.CONTROL,
        Channel.CONTROL,
        Channel.DATA,
        Channel.DATA,
    ]
    assert len(first[0][1]) == len(first[2][1]) == 24


def test_multi_chunk_image_arrives_byte_equal_and_is_acknowledged() -> None:
    pair = make_pair()
    image_id = pair.a.send_image(IMAGE, "image/jpeg", 800, 600)
    assert pair.a.outgoing_image_bytes == len(IMAGE)
    converse(pair)
    b_events = pair.b.events()
    offered = [e for e in b_events if isinstance(e, ImageOffered)]
    assert offered == [ImageOffered(image_id, len(IMAGE), "image/jpeg", 800, 600, False, 10.0)]
    complete = [e for e in b_events if isinstance(e, ImageComplete)]
    assert len(complete) == 1 and complete[0].id == image_id
    assert complete[0].data == IMAGE
    assert isinstance(complete[0].data, bytes)
    progress_in = [e for e in b_events if isinstance(e, ChunkProgress)]
    assert [e.done for e in progress_in][-1] == len(IMAGE)
    assert len(progress_in) == fr.chunk_count(len(IMAGE)) == 5
    a_events = pair.a.events()
    assert Acknowledged(image_id) in a_events
    out_progress = [e for e in a_events if isinstance(e, ChunkProgress)]
    assert all(e.direction == "out" for e in out_progress)
    assert out_progress[-1].done == out_progress[-1].total == len(IMAGE)
    assert pair.a.outgoing_image_bytes == 0
    assert pair.b.incoming_buffer_bytes == 0


def test_sender_drops_image_bytes_when_last_chunk_is_pulled() -> None:
    pair = make_pair()
    pair.a.send_image(IMAGE, "image/png", 10, 10)
    messages = drain(pair.a)
    assert messages[-1][0] is Channel.DATA
    assert pair.a.outgoing_image_bytes == 0
    assert not pair.a._images_out


def test_text_queued_during_an_image_overtakes_remaining_chunks() -> None:
    pair = make_pair()
    opening = drain(pair.a)  # headers and hellos
    pair.a.send_image(IMAGE, "image/jpeg", 100, 100)
    first = drain(pair.a, limit=2)  # img header and chunk 0
    assert [channel for channel, _ in first] == [Channel.DATA, Channel.DATA]
    text_id = pair.a.send_text("urgent")
    pair.a.send_ping()
    next_two = drain(pair.a, limit=2)
    assert [channel for channel, _ in next_two] == [Channel.CONTROL, Channel.CONTROL]
    rest = drain(pair.a)
    assert {channel for channel, _ in rest} == {Channel.DATA}
    assert len(rest) == fr.chunk_count(len(IMAGE)) - 1
    # Delivered per channel in order, the receiver still reassembles everything.
    deliver(opening + first + next_two + rest, pair.b)
    events = pair.b.events()
    assert any(isinstance(e, TextReceived) and e.id == text_id for e in events)
    assert any(isinstance(e, ImageComplete) and e.data == IMAGE for e in events)


def test_ping_pong_measures_rtt_with_injected_clock() -> None:
    pair = make_pair()
    converse(pair)
    pair.a.send_ping()
    deliver(drain(pair.a), pair.b)
    pair.clock.advance(0.25)
    deliver(drain(pair.b), pair.a)
    assert events_of(pair.a, PongReceived) == [PongReceived(0.25)]


def test_typing_notice_is_an_event() -> None:
    pair = make_pair()
    pair.a.send_typing()
    converse(pair)
    assert events_of(pair.b, TypingReceived) == [TypingReceived()]


def test_view_once_image_can_be_opened_once_and_the_sender_hears_of_it() -> None:
    pair = make_pair()
    image_id = pair.a.send_image(SMALL, "image/jpeg", 10, 10, view_once=True, view_seconds=5)
    converse(pair)
    complete = events_of(pair.b, ImageComplete)
    assert len(complete) == 1
    assert isinstance(complete[0], ImageComplete) and complete[0].view_once
    pair.b.send_opened(image_id)
    with pytest.raises(LocalProtocolError):
        pair.b.send_opened(image_id)
    converse(pair)
    assert Opened(image_id) in pair.a.events()


def test_view_once_refused_when_peer_does_not_honour_it() -> None:
    pair = make_pair(caps_b=Capabilities(view_once=False))
    with pytest.raises(LocalProtocolError):
        pair.a.send_image(SMALL, "image/jpeg", 10, 10, view_once=True)


def test_local_limits_are_checked_before_sending() -> None:
    pair = make_pair(caps_b=Capabilities(max_image_bytes=500, max_text_chars=5))
    with pytest.raises(ImageRejected):
        pair.a.send_image(SMALL, "image/jpeg", 10, 10)
    with pytest.raises(LocalProtocolError):
        pair.a.send_text("too long")
    with pytest.raises(LocalProtocolError):
        pair.a.send_text("")
    with pytest.raises(LocalProtocolError):
        pair.a.send_image(b"x" * 10, "image/gif", 10, 10)


# ------------------------------------------------------------------------------ closing


def test_bye_moves_peer_to_peer_closed_then_both_closed() -> None:
    pair = make_pair()
    converse(pair)
    pair.a.close()
    assert pair.a.state is SessionState.CLOSING
    with pytest.raises(LocalProtocolError):
        pair.a.send_text("after close")
    converse(pair)
    assert pair.b.state is SessionState.PEER_CLOSED
    assert PeerBye() in pair.b.events()
    with pytest.raises(LocalProtocolError):
        pair.b.send_text("you left")
    pair.b.close()
    converse(pair)
    assert pair.a.state is SessionState.CLOSED
    assert pair.b.state is SessionState.CLOSED
    pair.a.close()  # idempotent
    assert pair.a.state is SessionState.CLOSED


def test_frames_after_bye_are_rejected() -> None:
    pair = make_pair()
    pair.a.close()
    converse(pair)
    forged = RawPeer(pair.keys_a)  # a fresh stream under A's key is not A's stream
    with pytest.raises(DecryptError):
        pair.b.receive_data(*forged.frame(Channel.CONTROL, fr.Typing()))
    assert pair.b.state is SessionState.ERROR


def test_close_with_transfers_in_flight_cancels_them_and_frees_buffers() -> None:
    pair = make_pair()
    converse(pair)
    out_id = pair.a.send_image(IMAGE, "image/jpeg", 10, 10)
    deliver(drain(pair.a, limit=3), pair.b)
    assert pair.b.incoming_buffer_bytes == len(IMAGE)
    pair.b.close()
    assert pair.b.incoming_buffer_bytes == 0
    assert ImageCancelled(out_id, by_peer=False, direction="in") in pair.b.events()
    converse(pair)
    assert pair.a.state is SessionState.PEER_CLOSED
    assert ImageCancelled(out_id, by_peer=True, direction="out") in pair.a.events()
    assert pair.a.outgoing_image_bytes == 0


# ------------------------------------------------------------------------------ cancel


def test_receiver_cancel_frees_both_sides_and_next_image_still_works() -> None:
    pair = make_pair()
    converse(pair)
    first = pair.a.send_image(IMAGE, "image/jpeg", 10, 10)
    second = pair.a.send_image(SMALL, "image/png", 5, 5)
    deliver(drain(pair.a, limit=3), pair.b)  # header + 2 chunks
    assert pair.b.incoming_buffer_bytes == len(IMAGE)
    in_flight = drain(pair.a, limit=1)  # chunk 2 is already on the wire
    assert pair.b.cancel_image(first)
    assert pair.b.incoming_buffer_bytes == 0
    assert ImageCancelled(first, by_peer=False, direction="in") in pair.b.events()
    deliver(in_flight, pair.b)  # ignored, not an error
    converse(pair)
    assert ImageCancelled(first, by_peer=True, direction="out") in pair.a.events()
    assert pair.a.outgoing_image_bytes == 0
    done = events_of(pair.b, ImageComplete)
    assert [e.id for e in done if isinstance(e, ImageComplete)] == [second]
    assert pair.b.state is pair.a.state is SessionState.OPEN


def test_sender_cancel_frees_both_sides() -> None:
    pair = make_pair()
    converse(pair)
    image_id = pair.a.send_image(IMAGE, "image/jpeg", 10, 10)
    deliver(drain(pair.a, limit=2), pair.b)
    assert pair.b.incoming_buffer_bytes == len(IMAGE)
    assert pair.a.cancel_image(image_id)
    assert pair.a.outgoing_image_bytes == 0
    assert ImageCancelled(image_id, by_peer=False, direction="out") in pair.a.events()
    later = pair.a.send_image(SMALL, "image/jpeg", 10, 10)
    converse(pair)
    events = pair.b.events()
    assert ImageCancelled(image_id, by_peer=True, direction="in") in events
    assert pair.b.incoming_buffer_bytes == 0
    assert [e.id for e in events if isinstance(e, ImageComplete)] == [later]


def test_cancel_before_header_is_sent_is_silent_and_unknown_cancel_is_false() -> None:
    pair = make_pair()
    converse(pair)
    image_id = pair.a.send_image(SMALL, "image/jpeg", 10, 10)
    assert pair.a.cancel_image(image_id)
    assert drain(pair.a) == []
    assert not pair.a.cancel_image(image_id)
    assert not pair.a.cancel_image("ff" * 8)


# ---------------------------------------------------------------- tampering on the wire


def _tampered_run(tamper_index: int, how: str) -> tuple[Session, BaseException]:
    pair = make_pair()
    for word in ("one", "two", "three", "four"):
        pair.a.send_text(word)
    messages = [m for m in drain(pair.a) if m[0] is Channel.CONTROL]
    # messages: header, hello, one, two, three, four
    i = tamper_index
    if how == "flip":
        channel, data = messages[i]
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        messages[i] = (channel, bytes(flipped))
    elif how == "drop":
        del messages[i]
    elif how == "duplicate":
        messages.insert(i + 1, messages[i])
    elif how == "reorder":
        messages[i], messages[i + 1] = messages[i + 1], messages[i]
    elif how == "replay":
        messages.append(messages[i])
    with pytest.raises(DecryptError) as info:
        deliver(messages, pair.b)
    return pair.b, info.value


@pytest.mark.parametrize("how", ["flip", "drop", "duplicate", "reorder", "replay"])
def test_tampered_wire_is_rejected_and_session_fails(how: str) -> None:
    session, _ = _tampered_run(2, how)
    assert session.state is SessionState.ERROR
    with pytest.raises(LocalProtocolError):
        session.receive_data(Channel.CONTROL, b"anything")
    with pytest.raises(LocalProtocolError):
        session.send_text("still there?")
    assert session.next_frame() is None


def test_frame_from_another_session_is_rejected() -> None:
    pair = make_pair()
    other = make_pair()
    other.a.send_text("hi")
    foreign = [m for m in drain(other.a) if m[0] is Channel.CONTROL]
    own = [m for m in drain(pair.a) if m[0] is Channel.CONTROL]
    deliver(own, pair.b)
    with pytest.raises(DecryptError):
        deliver(foreign[1:], pair.b)


def test_bad_stream_header_size_is_a_protocol_error() -> None:
    _, keys_b = make_key_pair()
    session = Session(keys_b, clock=FakeClock())
    with pytest.raises(RemoteProtocolError):
        session.receive_data(Channel.DATA, b"short")
    assert session.state is SessionState.ERROR


# ----------------------------------------------------------------------- forged frames


def _expect_violation(peer_messages: list[tuple[Channel, bytes]], victim: Session) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        deliver(peer_messages, victim)
    assert not isinstance(info.value, DecryptError)  # authentic but invalid
    assert victim.state is SessionState.ERROR
    assert victim.incoming_buffer_bytes == 0


def test_truncated_image_then_new_image_is_rejected() -> None:
    peer, victim = opened_victim()
    messages = [peer.frame(Channel.DATA, image_header(IMAGE))]
    messages += [peer.frame(Channel.DATA, c) for c in chunks_of(IMAGE)[:2]]
    deliver(messages, victim)
    assert victim.incoming_buffer_bytes == len(IMAGE)
    _expect_violation([peer.frame(Channel.DATA, image_header(SMALL, "11" * 8))], victim)


def test_oversized_declared_size_is_rejected_without_allocating() -> None:
    limit = 1_000_000
    peer, victim = opened_victim(Limits(max_image_bytes=limit))
    huge = 512 * 1024 * 1024
    header = image_header(b"", size=huge, n=fr.chunk_count(huge))
    message = peer.frame(Channel.DATA, header)
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError):
            victim.receive_data(*message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit
    assert victim.incoming_buffer_bytes == 0
    assert victim.state is SessionState.ERROR


def test_image_side_over_limit_is_rejected() -> None:
    peer, victim = opened_victim(Limits(max_image_side=1000))
    _expect_violation([peer.frame(Channel.DATA, image_header(SMALL, w=1001))], victim)


def test_sha256_mismatch_is_rejected() -> None:
    peer, victim = opened_victim()
    header = image_header(IMAGE, sha256=hashlib.sha256(b"other").digest())
    messages = [peer.frame(Channel.DATA, header)]
    messages += [peer.frame(Channel.DATA, c) for c in chunks_of(IMAGE)]
    _expect_violation(messages, victim)
    assert not any(isinstance(e, ImageComplete) for e in victim.events())


@pytest.mark.parametrize("order", [[1], [0, 0], [0, 2], [0, 1, 0]])
def test_chunk_seq_not_strictly_increasing_is_rejected(order: list[int]) -> None:
    peer, victim = opened_victim()
    chunks = chunks_of(IMAGE)
    messages = [peer.frame(Channel.DATA, image_header(IMAGE))]
    messages += [peer.frame(Channel.DATA, chunks[i]) for i in order]
    _expect_violation(messages, victim)


def test_short_chunk_is_rejected() -> None:
    peer, victim = opened_victim()
    messages = [peer.frame(Channel.DATA, image_header(IMAGE))]
    messages.append(peer.frame(Channel.DATA, fr.Chunk("00" * 8, 0, IMAGE[:100])))
    _expect_violation(messages, victim)


def test_chunk_for_unknown_image_is_rejected() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.DATA, fr.Chunk("ab" * 8, 0, b"x"))], victim)


def test_too_many_images_in_flight_is_rejected() -> None:
    peer, victim = opened_victim(Limits(max_images_in_flight=0))
    _expect_violation([peer.frame(Channel.DATA, image_header(SMALL))], victim)


def test_text_over_limit_is_rejected() -> None:
    peer, victim = opened_victim(Limits(max_text_chars=10))
    deliver([peer.frame(Channel.CONTROL, fr.Text("01" * 8, "x" * 10, 1.0))], victim)
    _expect_violation([peer.frame(Channel.CONTROL, fr.Text("02" * 8, "x" * 11, 1.0))], victim)


def test_unknown_frame_type_is_rejected() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.body(Channel.CONTROL, {"t": "sticker", "id": "00" * 8})], victim)


@pytest.mark.parametrize(
    "body",
    [
        {"t": "text", "id": "00" * 8, "text": b"bytes not str", "sent_at": 1.0},
        {"t": "text", "id": 7, "text": "hi", "sent_at": 1.0},
        {"t": "text", "id": "00" * 8, "text": "hi", "sent_at": "now"},
        {"t": "text", "id": "00" * 8, "text": "hi"},
        {"t": "text", "id": "00" * 8, "text": "hi", "sent_at": 1.0, "extra": 1},
        {"t": "ack", "id": "ZZ" * 8},
        {"t": "ping", "nonce": "12345678"},
        {"t": "typing", "x": None},
        [1, 2, 3],
    ],
)
def test_wrong_field_types_are_rejected(body: object) -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.body(Channel.CONTROL, body)], victim)


@pytest.mark.parametrize(
    "overrides",
    [
        {"size": True},
        {"w": 1.5},
        {"n": 99},
        {"mime": "image/svg+xml"},
        {"view_once": 1},
        {"sha256": b"short"},
        {"view_seconds": float("nan")},
    ],
)
def test_wrong_image_header_fields_are_rejected(overrides: dict[str, object]) -> None:
    peer, victim = opened_victim()
    body = {"t": "img", **fr._fields_of(image_header(SMALL)), **overrides}
    _expect_violation([peer.body(Channel.DATA, body)], victim)


def test_frame_on_wrong_channel_is_rejected() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.CONTROL, image_header(SMALL))], victim)
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.DATA, fr.Text("00" * 8, "hi", 1.0))], victim)


def test_missing_hello_is_rejected() -> None:
    keys_a, keys_b = make_key_pair()
    victim = Session(keys_b, clock=FakeClock())
    peer = RawPeer(keys_a)
    _expect_violation(
        [peer.header(Channel.CONTROL), peer.frame(Channel.CONTROL, fr.Typing())], victim
    )


def test_bye_must_carry_the_final_tag_and_final_tag_must_be_bye() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.CONTROL, fr.Bye())], victim)
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.CONTROL, fr.Typing(), final=True)], victim)


def test_ack_or_opened_for_unknown_ids_is_rejected() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.CONTROL, fr.Ack("12" * 8))], victim)
    peer, victim = opened_victim()
    _expect_violation([peer.frame(Channel.CONTROL, fr.Opened("12" * 8))], victim)


def test_oversized_ciphertext_is_rejected_before_decrypting() -> None:
    peer, victim = opened_victim()
    _expect_violation([peer.raw(Channel.DATA, bytes(fr.MAX_FRAME_BYTES + 1))], victim)


def test_failed_session_wipes_partial_image() -> None:
    peer, victim = opened_victim()
    deliver(
        [
            peer.frame(Channel.DATA, image_header(IMAGE)),
            peer.frame(Channel.DATA, chunks_of(IMAGE)[0]),
        ],
        victim,
    )
    buffer = victim._images_in["00" * 8].buffer
    assert buffer[:10] == IMAGE[:10]
    with pytest.raises(DecryptError):
        victim.receive_data(Channel.DATA, b"\x00" * 40)
    assert len(buffer) == 0
    assert victim.incoming_buffer_bytes == 0


def test_a_digest_computed_elsewhere_is_used_and_still_checked_by_the_peer():
    """The service hashes big photos off its event loop; the receiver still verifies."""
    pair = make_pair()
    right = hashlib.sha256(IMAGE).digest()
    pair.a.send_image(IMAGE, "image/jpeg", 10, 10, sha256=right)
    converse(pair)
    complete = events_of(pair.b, ImageComplete)
    assert len(complete) == 1 and complete[0].data == IMAGE

    pair = make_pair()
    wrong = bytes(32)
    pair.a.send_image(IMAGE, "image/jpeg", 10, 10, sha256=wrong)
    with pytest.raises(RemoteProtocolError, match="SHA-256"):
        converse(pair)
    assert pair.b.state is SessionState.ERROR
    assert not events_of(pair.b, ImageComplete)


def _text(message_id: str) -> fr.Text:
    return fr.Text(message_id, "hello", 1.0)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda peer, mid: peer.frame(Channel.CONTROL, _text(mid)), id="text"),
        pytest.param(
            lambda peer, mid: peer.frame(Channel.DATA, image_header(SMALL, mid)), id="photo"
        ),
    ],
)
@pytest.mark.parametrize("first", ["peer-text", "peer-photo", "our-text", "our-photo"])
def test_a_reused_message_id_is_refused(first: str, second) -> None:
    """One id names one message: a second message under a used id is refused, whoever used it."""
    peer, victim = opened_victim()
    if first == "peer-text":
        mid = "5a" * 8
        deliver([peer.frame(Channel.CONTROL, _text(mid))], victim)
    elif first == "peer-photo":
        mid = "5b" * 8
        messages = [peer.frame(Channel.DATA, image_header(SMALL, mid))]
        messages += [peer.frame(Channel.DATA, c) for c in chunks_of(SMALL, mid)]
        deliver(messages, victim)
    elif first == "our-text":
        mid = victim.send_text("mine")
    else:
        mid = victim.send_image(SMALL, "image/png", 1, 1)
    victim.events()
    _expect_violation([second(peer, mid)], victim)
