"""The sans-I/O reconnect handshake: two sides in memory, no network."""

from __future__ import annotations

import os

import nacl.signing
import pytest

from p2pchat.core import crypto
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake import (
    MEETING_WINDOW_SECONDS,
    IdentityMismatch,
    NotTheContact,
    Reconnect,
    meeting_window,
    rendezvous_nameplate,
)
from p2pchat.core.keys import Capabilities, Channel

PSK = bytes(range(32))
SDP_A = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=offer\r\n"
SDP_B = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=answer\r\n"


def _pair(psk_b: bytes = PSK, pinned_by_b: bytes | None = None):  # type: ignore[no-untyped-def]
    id_a, id_b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    a = Reconnect(PSK, "aaaa", id_a, bytes(id_b.verify_key), Capabilities(label="A"))
    b = Reconnect(
        psk_b,
        "bbbb",
        id_b,
        pinned_by_b if pinned_by_b is not None else bytes(id_a.verify_key),
        Capabilities(label="B"),
    )
    return a, b, id_a, id_b


def _run(a: Reconnect, b: Reconnect):  # type: ignore[no-untyped-def]
    (hello_a,) = a.start()
    (hello_b,) = b.start()
    (ready,) = b.receive(hello_a.phase, a.side, hello_a.body)
    assert a.receive(hello_b.phase, b.side, hello_b.body) == []
    # Nobody acts on a hello alone: it could be a recording.
    assert a.role is None and b.role is None
    assert ready.phase == "ready"
    a.receive(ready.phase, b.side, ready.body)
    assert a.role == "offerer" and b.role is None
    offer = a.seal_sdp(SDP_A)
    b.receive(offer.phase, a.side, offer.body)
    assert b.role == "answerer"
    assert b.remote_sdp == SDP_A
    answer = b.seal_sdp(SDP_B)
    a.receive(answer.phase, b.side, answer.body)
    assert a.remote_sdp == SDP_B
    keys_a = a.receive_bind(b.bind_message())
    keys_b = b.receive_bind(a.bind_message())
    return keys_a, keys_b


def test_two_sides_agree_on_keys_and_safety_number() -> None:
    a, b, id_a, id_b = _pair()
    keys_a, keys_b = _run(a, b)
    for channel in Channel:
        assert keys_a.send_keys[channel] == keys_b.recv_keys[channel]
        assert keys_a.recv_keys[channel] == keys_b.send_keys[channel]
        assert keys_a.send_keys[channel] != keys_a.recv_keys[channel]
    assert keys_a.safety_number == keys_b.safety_number
    assert keys_a.safety_number == crypto.safety_number(
        bytes(id_a.verify_key), bytes(id_b.verify_key)
    )
    assert keys_a.peer_identity == bytes(id_b.verify_key)
    assert keys_b.peer_capabilities.label == "A"
    # The reconnect key ratchets, the same on both sides; the used one is the fallback.
    assert keys_a.reconnect_psk == keys_b.reconnect_psk
    assert keys_a.reconnect_psk not in (PSK, b"")
    assert keys_a.previous_psk == keys_b.previous_psk == PSK


def test_fresh_ephemerals_give_fresh_session_keys() -> None:
    keys_1, _ = _run(*_pair()[:2])
    keys_2, _ = _run(*_pair()[:2])
    assert keys_1.send_keys[Channel.CONTROL] != keys_2.send_keys[Channel.CONTROL]


def test_changed_identity_is_refused() -> None:
    stranger = bytes(nacl.signing.SigningKey.generate().verify_key)
    a, b, id_a, _ = _pair(pinned_by_b=stranger)
    (hello_a,) = a.start()
    b.start()
    with pytest.raises(IdentityMismatch) as caught:
        b.receive(hello_a.phase, a.side, hello_a.body)
    assert caught.value.offered_key == bytes(id_a.verify_key)
    assert caught.value.pinned_key == stranger
    with pytest.raises(LocalProtocolError):
        b.seal_sdp(SDP_B)


def test_someone_without_the_psk_cannot_open_the_hello() -> None:
    a, b, *_ = _pair(psk_b=bytes(32))
    (hello_a,) = a.start()
    b.start()
    with pytest.raises(RemoteProtocolError, match="reconnect key"):
        b.receive(hello_a.phase, a.side, hello_a.body)


def test_forged_hello_signature_is_refused() -> None:
    # A hello re-sealed (by someone with the PSK) under another side id: the signature
    # binds the side, so it no longer verifies.
    a, b, *_ = _pair()
    (hello_a,) = a.start()
    b.start()
    from p2pchat.core.handshake.reconnect_wire import open_hello, seal_hello

    _, plaintext = open_hello([PSK], a.side, hello_a.body)
    resealed = seal_hello([PSK], "aaab", plaintext, os.urandom)
    with pytest.raises(RemoteProtocolError, match="signature"):
        b.receive("hello", "aaab", resealed)


def test_tampered_bind_is_refused() -> None:
    a, b, *_ = _pair()
    (hello_a,) = a.start()
    (hello_b,) = b.start()
    (ready,) = b.receive("hello", a.side, hello_a.body)
    a.receive("hello", b.side, hello_b.body)
    a.receive("ready", b.side, ready.body)
    offer = a.seal_sdp(SDP_A)
    b.receive("offer", a.side, offer.body)
    answer = b.seal_sdp(SDP_B)
    a.receive("answer", b.side, answer.body)
    bind = bytearray(b.bind_message())
    bind[3] ^= 1
    with pytest.raises(RemoteProtocolError):
        a.receive_bind(bytes(bind))


def test_replayed_hello_is_refused() -> None:
    a, b, *_ = _pair()
    (hello_a,) = a.start()
    b.start()
    b.receive("hello", a.side, hello_a.body)
    with pytest.raises(RemoteProtocolError, match="unexpected hello"):
        b.receive("hello", a.side, hello_a.body)


def test_nameplate_is_long_decimal_per_psk_window_and_attempt() -> None:
    window = meeting_window(1_800_000_000.0)
    one = rendezvous_nameplate(PSK, window)
    assert one.isdigit() and len(one) == 12 and one[0] != "0"
    assert rendezvous_nameplate(PSK, window) == one
    assert rendezvous_nameplate(PSK, window, 0) == one
    assert rendezvous_nameplate(bytes(32), window) != one
    # Tomorrow's meeting point says nothing about today's, and a squatted point has a
    # next one both sides compute alike.
    assert rendezvous_nameplate(PSK, window + 1) != one
    assert rendezvous_nameplate(PSK, window, 1) not in (one, rendezvous_nameplate(PSK, window + 1))
    assert meeting_window(window * MEETING_WINDOW_SECONDS + MEETING_WINDOW_SECONDS - 1) == window
    with pytest.raises(LocalProtocolError):
        rendezvous_nameplate(b"short", window)
    with pytest.raises(LocalProtocolError):
        rendezvous_nameplate(PSK, window, 99)


# --- issue 19 section 1: nothing that holds an address before the contact proved itself


def _old_offer_sealed_with_the_psk_alone(side: str, sdp: str) -> bytes:
    """What the version-1 protocol accepted as an offer: sealed with the PSK alone."""
    phase = crypto.hkdf_sha256(PSK, b"p2pchat/v1:reconnect:phase")
    return crypto.seal(crypto.phase_key(phase, side, "offer"), sdp.encode())


def test_an_offer_before_the_hello_is_refused_and_nothing_is_answered() -> None:
    # Someone holding only the reconnect key picks a side that sorts first and offers.
    _, b, *_ = _pair()
    b.start()
    with pytest.raises(RemoteProtocolError, match="before the contact's verified hello"):
        b.receive("offer", "0000", _old_offer_sealed_with_the_psk_alone("0000", SDP_A))
    assert b.remote_sdp is None and b.role is None
    with pytest.raises(LocalProtocolError):
        b.seal_sdp(SDP_B)


def test_answer_or_ready_before_the_hello_is_refused() -> None:
    for phase in ("answer", "ready"):
        a, *_ = _pair()
        a.start()
        with pytest.raises(RemoteProtocolError, match="unexpected"):
            a.receive(phase, "zzzz", b"\x00" * 64)


def test_replayed_hello_and_offer_fail_before_the_answerer_answers() -> None:
    # A mailbox operator recorded Alice's hello and offer of an earlier meeting.
    old_a, old_b, id_a, id_b = _pair()
    (hello_a,) = old_a.start()
    (hello_b,) = old_b.start()
    (ready,) = old_b.receive("hello", old_a.side, hello_a.body)
    old_a.receive("hello", old_b.side, hello_b.body)
    old_a.receive("ready", old_b.side, ready.body)
    recorded_offer = old_a.seal_sdp(SDP_A)
    # Now Bob meets again; the operator plays back Alice's part.
    bob = Reconnect(PSK, "bbbb", id_b, bytes(id_a.verify_key), Capabilities(label="B"))
    bob.start()
    (new_ready,) = bob.receive("hello", old_a.side, hello_a.body)  # a hello alone proves nothing
    assert new_ready.phase == "ready" and bob.role is None
    with pytest.raises(RemoteProtocolError, match="replay"):
        bob.receive("offer", old_a.side, recorded_offer.body)
    assert bob.remote_sdp is None and bob.role is None
    with pytest.raises(LocalProtocolError):
        bob.seal_sdp(SDP_B)


def test_replayed_hello_and_ready_fail_before_the_offerer_offers() -> None:
    old_a, old_b, id_a, id_b = _pair()
    (hello_a,) = old_a.start()
    (hello_b,) = old_b.start()
    (ready,) = old_b.receive("hello", old_a.side, hello_a.body)
    alice = Reconnect(PSK, "aaaa", id_a, bytes(id_b.verify_key), Capabilities(label="A"))
    alice.start()
    alice.receive("hello", old_b.side, hello_b.body)
    with pytest.raises(LocalProtocolError):
        alice.seal_sdp(SDP_A)  # no offer on the strength of a hello
    with pytest.raises(RemoteProtocolError, match="replay"):
        alice.receive("ready", old_b.side, ready.body)
    assert alice.role is None


def test_psk_holder_with_another_identity_cannot_get_an_answer() -> None:
    # The thief of contacts.json re-signs everything with its own key: the hello is
    # refused for the pinned key, so no offer is ever accepted from it.
    thief = nacl.signing.SigningKey.generate()
    _, b, _, id_b = _pair()
    forged = Reconnect(PSK, "0000", thief, bytes(id_b.verify_key), Capabilities())
    (hello,) = forged.start()
    b.start()
    with pytest.raises(IdentityMismatch):
        b.receive("hello", "0000", hello.body)


def test_a_stranger_at_the_meeting_point_is_told_apart() -> None:
    a, b, *_ = _pair(psk_b=bytes(32))
    (hello_a,) = a.start()
    b.start()
    with pytest.raises(NotTheContact):
        b.receive("hello", a.side, hello_a.body)


# --- issue 19 section 3: the reconnect key ratchets after each meeting that bound


def _contact(psk: bytes, me, peer, side: str, previous: bytes | None = None) -> Reconnect:  # type: ignore[no-untyped-def]
    return Reconnect(psk, side, me, bytes(peer.verify_key), Capabilities(), previous_psk=previous)


def test_a_side_that_missed_the_last_ratchet_step_still_meets() -> None:
    # Alice verified the last bind and ratcheted; Bob's connection dropped first.
    id_a, id_b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    k0 = PSK
    first_a, _ = _run(_contact(k0, id_a, id_b, "aaaa"), _contact(k0, id_b, id_a, "bbbb"))
    k1 = first_a.reconnect_psk
    ahead = _contact(k1, id_a, id_b, "aaaa", previous=k0)
    behind = _contact(k0, id_b, id_a, "bbbb")
    keys_a, keys_b = _run(ahead, behind)
    assert keys_a.previous_psk == keys_b.previous_psk == k0  # the newest key both held
    assert keys_a.reconnect_psk == keys_b.reconnect_psk != k1
    # And back in step: both meet on the new key.
    k2 = keys_a.reconnect_psk
    keys_a, keys_b = _run(
        _contact(k2, id_a, id_b, "aaaa", previous=k0), _contact(k2, id_b, id_a, "bbbb", k0)
    )
    assert keys_a.previous_psk == k2


def test_a_stolen_key_is_useless_two_meetings_later() -> None:
    id_a, id_b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    stolen = PSK
    k1 = _run(_contact(stolen, id_a, id_b, "aaaa"), _contact(stolen, id_b, id_a, "bbbb"))[0]
    k2 = _run(
        _contact(k1.reconnect_psk, id_a, id_b, "aaaa", stolen),
        _contact(k1.reconnect_psk, id_b, id_a, "bbbb", stolen),
    )[0]
    # The thief (with the old contacts.json) speaks at the meeting point.
    thief = _contact(stolen, id_a, id_b, "aaaa")
    (hello,) = thief.start()
    bob = _contact(k2.reconnect_psk, id_b, id_a, "bbbb", k2.previous_psk)
    bob.start()
    with pytest.raises(NotTheContact):
        bob.receive("hello", "aaaa", hello.body)


def test_the_next_key_needs_the_meetings_secret() -> None:
    # Someone who knows the key and watched a meeting's messages cannot follow the
    # ratchet: the next key needs that meeting's X25519 secret.
    from p2pchat.core.handshake.reconnect_wire import next_psk

    transcript = bytes(32)
    assert next_psk(PSK, bytes(32), transcript) != next_psk(PSK, bytes([1]) * 32, transcript)
