"""The sans-I/O reconnect handshake: two sides in memory, no network."""

from __future__ import annotations

import nacl.signing
import pytest

from p2pchat.core import crypto
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.keys import Capabilities, Channel
from p2pchat.core.reconnect import IdentityMismatch, Reconnect, rendezvous_nameplate

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
    b.receive(hello_a.phase, a.side, hello_a.body)
    a.receive(hello_b.phase, b.side, hello_b.body)
    assert a.role == "offerer" and b.role == "answerer"
    offer = a.seal_sdp(SDP_A)
    b.receive(offer.phase, a.side, offer.body)
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
    assert keys_a.reconnect_psk == PSK


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
    from p2pchat.core.reconnect import _psk_key

    plaintext = crypto.open_sealed(
        crypto.phase_key(_psk_key(PSK, "phase"), a.side, "hello"), hello_a.body
    )
    resealed = crypto.seal(crypto.phase_key(_psk_key(PSK, "phase"), "aaab", "hello"), plaintext)
    with pytest.raises(RemoteProtocolError, match="signature"):
        b.receive("hello", "aaab", resealed)


def test_tampered_bind_is_refused() -> None:
    a, b, *_ = _pair()
    (hello_a,) = a.start()
    (hello_b,) = b.start()
    b.receive("hello", a.side, hello_a.body)
    a.receive("hello", b.side, hello_b.body)
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
    with pytest.raises(RemoteProtocolError, match="second hello"):
        b.receive("hello", a.side, hello_a.body)


def test_offer_may_travel_with_the_hello_when_sides_are_fixed() -> None:
    id_a, id_b = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    a = Reconnect(PSK, "0", id_a, bytes(id_b.verify_key), Capabilities(), peer_side="1")
    b = Reconnect(PSK, "1", id_b, bytes(id_a.verify_key), Capabilities(), peer_side="0")
    (hello_a,) = a.start()
    offer = a.seal_sdp(SDP_A)  # before the peer's hello: the copy-paste flow
    (hello_b,) = b.start()
    b.receive("hello", "0", hello_a.body)
    b.receive("offer", "0", offer.body)
    answer = b.seal_sdp(SDP_B)
    a.receive("hello", "1", hello_b.body)
    a.receive("answer", "1", answer.body)
    keys_a = a.receive_bind(b.bind_message())
    keys_b = b.receive_bind(a.bind_message())
    assert keys_a.send_keys == keys_b.recv_keys


def test_nameplate_is_long_decimal_and_per_psk() -> None:
    one = rendezvous_nameplate(PSK)
    assert one.isdigit() and len(one) == 12 and one[0] != "0"
    assert rendezvous_nameplate(PSK) == one
    assert rendezvous_nameplate(bytes(32)) != one
    with pytest.raises(LocalProtocolError):
        rendezvous_nameplate(b"short")
