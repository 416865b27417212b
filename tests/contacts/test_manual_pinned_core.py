"""The two-blob copy-paste meeting with a pinned contact (no network).

Tamper tests flip one byte; a wrong reconnect key, a changed identity key, a
forged signature and a replayed first blob each end the meeting with a clear error.
"""

from __future__ import annotations

import base64

import msgpack
import nacl.secret
import nacl.signing
import pytest

from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake import IdentityMismatch
from p2pchat.core.handshake.blobs import InvalidBlob, decode_blob, encode_blob
from p2pchat.core.handshake.manual_pinned import ManualReconnect, _psk_key
from p2pchat.core.keys import Capabilities
from tests.contacts.test_manual_core import ONE_CANDIDATE_SDP, SDP

PSK = bytes(range(32))
ALICE = nacl.signing.SigningKey(bytes(range(1, 33)))
BOB = nacl.signing.SigningKey(bytes(range(2, 34)))


def sides(
    psk: bytes = PSK, *, alice: nacl.signing.SigningKey = ALICE, pinned_alice: bytes | None = None
):
    inviter = ManualReconnect(psk, True, alice, bytes(BOB.verify_key), Capabilities(label="alice"))
    joiner = ManualReconnect(PSK, False, BOB, bytes(ALICE.verify_key), Capabilities(label="bob"))
    return inviter, joiner


def flip(blob: str, index: int) -> str:
    header, body = blob.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 0x01
    return header + "." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_two_blobs_meet_and_both_sides_derive_the_same_session() -> None:
    inviter, joiner = sides()
    first = inviter.first_blob(ONE_CANDIDATE_SDP)
    offer = joiner.receive_first(first)
    second = joiner.second_blob(ONE_CANDIDATE_SDP)
    answer = inviter.receive_second(second)
    assert "a=ice-ufrag:y7Y4" in offer and "a=ice-ufrag:y7Y4" in answer
    assert len(first) < 400 and len(second) < 400
    assert inviter.transcript() == joiner.transcript()
    assert inviter.safety_number == joiner.safety_number
    assert inviter.peer_capabilities == Capabilities(label="bob")
    keys_a = inviter.receive_bind(joiner.bind_message())
    keys_b = joiner.receive_bind(inviter.bind_message())
    assert keys_a.send_keys == keys_b.recv_keys and keys_a.recv_keys == keys_b.send_keys
    assert keys_a.reconnect_psk == keys_b.reconnect_psk == PSK


def test_every_meeting_uses_fresh_salts_and_ephemerals() -> None:
    first_a = sides()[0].first_blob(SDP)
    first_b = sides()[0].first_blob(SDP)
    assert decode_blob(first_a, 4)[0] != decode_blob(first_b, 4)[0]
    assert decode_blob(first_a, 4)[1] != decode_blob(first_b, 4)[1]


@pytest.mark.parametrize("index", [0, 15, 16, 40, -5])
def test_a_flipped_byte_in_the_first_blob_is_refused(index: int) -> None:
    inviter, joiner = sides()
    first = inviter.first_blob(SDP)
    with pytest.raises(RemoteProtocolError):  # the check, the salt or the MAC
        joiner.receive_first(flip(first, index))


def test_a_flipped_byte_in_the_second_blob_is_refused_and_ends_the_meeting() -> None:
    inviter, joiner = sides()
    joiner.receive_first(inviter.first_blob(SDP))
    second = joiner.second_blob(SDP)
    # Re-wrap a sealed part with one flipped bit under a valid blob check.
    salt, sealed = decode_blob(second, 5)
    tampered = encode_blob(5, [salt, sealed[:-1] + bytes([sealed[-1] ^ 1])])
    with pytest.raises(RemoteProtocolError, match="not sealed with this contact"):
        inviter.receive_second(tampered)
    with pytest.raises(LocalProtocolError):
        inviter.receive_second(second)


def test_a_damaged_paste_can_be_pasted_again() -> None:
    inviter, joiner = sides()
    first = inviter.first_blob(SDP)
    with pytest.raises(InvalidBlob):
        joiner.receive_first(first[:-6])
    assert joiner.receive_first(first)


def test_a_wrong_reconnect_key_is_refused() -> None:
    inviter, joiner = sides(psk=bytes(32))
    with pytest.raises(RemoteProtocolError, match="reconnect key"):
        joiner.receive_first(inviter.first_blob(SDP))


def test_a_changed_identity_key_is_the_ssh_style_mismatch() -> None:
    stranger = nacl.signing.SigningKey(bytes(range(3, 35)))
    inviter, joiner = sides(alice=stranger)
    with pytest.raises(IdentityMismatch) as caught:
        joiner.receive_first(inviter.first_blob(SDP))
    assert caught.value.offered_key == bytes(stranger.verify_key)
    assert caught.value.pinned_key == bytes(ALICE.verify_key)


def test_a_pinned_key_with_someone_elses_signature_is_refused() -> None:
    """Holding the PSK is not enough: the SDP must be signed by the pinned identity."""
    inviter, joiner = sides()
    salt, sealed = decode_blob(inviter.first_blob(SDP), 4)
    box = nacl.secret.SecretBox(_psk_key(PSK, b"0|" + salt))
    version, sdp, _ = msgpack.unpackb(box.decrypt(sealed, bytes(24)), raw=False)
    forged = nacl.signing.SigningKey(bytes(range(9, 41))).sign(b"x").signature
    payload = msgpack.packb([version, sdp, forged], use_bin_type=True)
    resealed = bytes(box.encrypt(payload, bytes(24)).ciphertext)
    with pytest.raises(RemoteProtocolError, match="not signed by their pinned key"):
        joiner.receive_first(encode_blob(4, [salt, resealed]))


def test_a_replayed_first_blob_gets_an_answer_under_a_new_key() -> None:
    inviter, joiner = sides()
    first = inviter.first_blob(SDP)
    joiner.receive_first(first)
    second = joiner.second_blob(SDP)
    _, replay_joiner = sides()
    replay_joiner.receive_first(first)  # an attacker pastes the old blob again
    replayed_answer = replay_joiner.second_blob(SDP)
    assert decode_blob(replayed_answer, 5)[1] != decode_blob(second, 5)[1]
    # ... and the old answer does not open for a fresh meeting of the inviter.
    fresh_inviter, _ = sides()
    fresh_inviter.first_blob(SDP)
    with pytest.raises(RemoteProtocolError):
        fresh_inviter.receive_second(second)


def test_steps_out_of_order_are_refused() -> None:
    inviter, joiner = sides()
    with pytest.raises(LocalProtocolError):
        inviter.second_blob(SDP)
    with pytest.raises(LocalProtocolError):
        joiner.first_blob(SDP)
    with pytest.raises(LocalProtocolError):
        joiner.second_blob(SDP)
    with pytest.raises(LocalProtocolError):
        inviter.transcript()
