"""Known answers for the key schedule, and the properties that make them right.

Fixed expected values were computed once from this implementation with injected
randomness; each is paired with a check that does not trust that computation
(an RFC vector, an independent HKDF, symmetry, sizes).
"""

from __future__ import annotations

import nacl.bindings
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from p2pchat.core import crypto
from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake.steps import stream_label
from p2pchat.core.keys import Channel

# --- HKDF ----------------------------------------------------------------------------


def test_hkdf_matches_rfc5869_test_case_1():
    okm = crypto.hkdf_sha256(
        ikm=bytes.fromhex("0b" * 22),
        info=bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        salt=bytes.fromhex("000102030405060708090a0b0c"),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_matches_rfc5869_test_case_3_empty_salt_and_info():
    okm = crypto.hkdf_sha256(ikm=bytes.fromhex("0b" * 22), info=b"", length=42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_hkdf_refuses_impossible_lengths():
    with pytest.raises(LocalProtocolError):
        crypto.hkdf_sha256(b"k", b"i", length=255 * 32 + 1)


# --- the key schedule ---------------------------------------------------------------------

KAT_TRANSCRIPT = "50221adef94018565409fd8263b5a630ec2178f390961db2a805122ddedc95bd"
KAT_SEND_KEYS_OF_OFFERER = {
    Channel.CONTROL: "84aa26e8a054abed94f9363bd74e12a1c0364d5627120408d44fcdbe576827fe",
    Channel.DATA: "6eedde69299435aec349d957e16e29e9b2784b285c35096390399a95fd15153b",
}
KAT_RECV_KEYS_OF_OFFERER = {
    Channel.CONTROL: "df9bd923690bc07be78e05d3ab1f4716b29d95d621954e6b482fa519c4c49eeb",
    Channel.DATA: "68d59083ff00f637de7ea268cbefc2ce62e8e6ca7a9b28a9f196bee2fd371274",
}
KAT_RECONNECT_PSK = "f4c015ec30bf2f5801ea81e9c16cfd8d6d20729b0a906ca166736eab723356de"
KAT_SAFETY_NUMBER = "788567834218411297553333174542932225912280265180249282494199"


@pytest.fixture(scope="module")
def kat_pair(core):
    pair = core.make_pair(seed=b"kat")
    keys = pair.run()
    return pair, keys


def test_key_schedule_known_answers(kat_pair):
    _, (offerer, answerer) = kat_pair
    assert offerer.transcript.hex() == KAT_TRANSCRIPT
    assert {c: k.hex() for c, k in offerer.send_keys.items()} == KAT_SEND_KEYS_OF_OFFERER
    assert {c: k.hex() for c, k in offerer.recv_keys.items()} == KAT_RECV_KEYS_OF_OFFERER
    assert offerer.reconnect_psk.hex() == KAT_RECONNECT_PSK
    assert offerer.safety_number == KAT_SAFETY_NUMBER
    assert answerer.send_keys == offerer.recv_keys


def test_same_seed_same_keys_other_seed_other_keys(core, kat_pair):
    _, (offerer, _) = kat_pair
    again, _ = core.make_pair(seed=b"kat").run()
    other, _ = core.make_pair(seed=b"another").run()
    assert again.send_keys == offerer.send_keys
    assert other.transcript != offerer.transcript
    assert not set(other.send_keys.values()) & set(offerer.send_keys.values())


def test_stream_keys_follow_the_design_with_an_independent_hkdf(kat_pair):
    """HKDF-SHA256(ikm = X25519(eph_a, eph_b) || K_pake, salt = transcript, info = label)."""
    pair, (offerer, _) = kat_pair
    a, b = pair.a, pair.b
    shared = nacl.bindings.crypto_scalarmult(
        a._ephemeral_private, nacl.bindings.crypto_scalarmult_base(b._ephemeral_private)
    )
    for channel in Channel:
        for sender, keys in (("offerer", offerer.send_keys), ("answerer", offerer.recv_keys)):
            info = b"p2pchat/v1:stream:" + stream_label(sender, channel).encode()
            expected = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=offerer.transcript, info=info
            ).derive(shared + a._pake_key)
            assert keys[channel] == expected


def test_stream_labels_name_direction_and_channel():
    assert stream_label("offerer", Channel.CONTROL) == "offerer->answerer/control"
    assert stream_label("answerer", Channel.DATA) == "answerer->offerer/data"


def test_phase_and_purpose_keys_known_answers_and_separation():
    pake_key = bytes(range(32))
    version_key = crypto.phase_key(pake_key, "aaaa000001", "version")
    assert version_key.hex() == "bd4850c5a2b8ff81561a3265fbb5ffe3bc923b5fd0758597954cc71877aaa63a"
    bind_key = crypto.purpose_key(pake_key, "bind")
    assert bind_key.hex() == "d1c8663867643d88644dbbb73aff50a3e7d9d1768419693fbe3d13aaf4eb3754"
    derived = {
        version_key,
        bind_key,
        crypto.phase_key(pake_key, "bbbb000002", "version"),
        crypto.phase_key(pake_key, "aaaa000001", "offer"),
        crypto.purpose_key(pake_key, "reconnect-psk"),
    }
    assert len(derived) == 5  # every side, phase and purpose gets its own key


def test_session_key_known_answer():
    key = crypto.session_key(bytes(32), bytes(range(32)), bytes(32), "offerer->answerer/control")
    assert key.hex() == "fef4da5cba079c7f9080662d02631259a494c96ab02dc639966ec9f93ca91dfd"


# --- safety numbers -----------------------------------------------------------------------

ALICE = bytes.fromhex("d5bf4a3fcce717b0388bcc2749ebc148ad9969b23f45ee1b605fd58778576ac4")
BOB = bytes.fromhex("ecc1b58727f3f12b3194881a9ecb9de0b28ce7b207230d8e930fe1bce75e256c")


def test_safety_number_known_answer():
    assert crypto.safety_number(ALICE, BOB) == (
        "600013915801470539794822025519766470389589929328933711831639"
    )


def test_safety_number_properties():
    number = crypto.safety_number(ALICE, BOB)
    assert number == crypto.safety_number(BOB, ALICE)  # both people see the same
    assert len(number) == 60 and number.isdigit()
    # it is the two people's fingerprints side by side, in sorted order
    halves = sorted(crypto.fingerprint(key).replace(" ", "") for key in (ALICE, BOB))
    assert number == "".join(halves)
    changed = crypto.safety_number(ALICE, bytes([BOB[0] ^ 1]) + BOB[1:])
    alice_half = crypto.fingerprint(ALICE).replace(" ", "")
    assert changed != number and alice_half in changed  # Alice's half stays


def test_each_key_is_stretched_once_however_often_it_is_asked_for(monkeypatch):
    """A pairing asks for the peer's half for the safety number and again for each Paired
    event's fingerprint: 5,200 SHA-512 rounds (3 ms) per key, not per question."""
    import hashlib
    import os

    ours, theirs = os.urandom(32), os.urandom(32)  # keys no other test has asked about
    rounds = 0
    real_sha512 = hashlib.sha512

    def counting(data: bytes = b"") -> object:
        nonlocal rounds
        rounds += 1
        return real_sha512(data)

    monkeypatch.setattr(hashlib, "sha512", counting)
    number = crypto.safety_number(ours, theirs)
    halves = set()
    for _ in range(3):
        halves.add(crypto.fingerprint(theirs))
        halves.add(crypto.fingerprint(bytearray(ours)))  # any bytes-like key is the same key
    assert rounds == 2 * (crypto.SAFETY_NUMBER_ITERATIONS + 1)
    assert len(halves) == 2 and all(half.replace(" ", "") in number for half in halves)


def test_format_safety_number_groups_of_five():
    formatted = crypto.format_safety_number("0123456789" * 6)
    assert formatted.split(" ") == ["01234", "56789"] * 6


# --- sealed boxes, DH, streams ------------------------------------------------------------


def test_seal_uses_the_injected_nonce_and_opens():
    key = bytes(range(32))
    sealed = crypto.seal(key, b"hello", random=lambda size: b"\x07" * size)
    assert sealed[: crypto.NONCE_SIZE] == b"\x07" * crypto.NONCE_SIZE
    assert crypto.open_sealed(key, sealed) == b"hello"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + bytes([s[-1] ^ 1]),
        lambda s: s[: crypto.NONCE_SIZE + crypto.BOX_OVERHEAD - 1],
        lambda s: b"",
    ],
)
def test_modified_or_short_sealed_messages_are_decrypt_errors(mangle):
    key = bytes(range(32))
    with pytest.raises(DecryptError):
        crypto.open_sealed(key, mangle(crypto.seal(key, b"hello")))


def test_x25519_agrees_and_refuses_low_order_points():
    a, b = bytes(range(32)), bytes(range(1, 33))
    shared = crypto.x25519(a, crypto.x25519_public(b))
    assert shared == crypto.x25519(b, crypto.x25519_public(a))
    with pytest.raises(RemoteProtocolError):
        crypto.x25519(a, bytes(32))
    with pytest.raises(RemoteProtocolError):
        crypto.x25519(a, bytes(31))


def test_stream_rejects_reordered_and_replayed_frames():
    sender = crypto.StreamSender(bytes(32))
    first, second = sender.push(b"one"), sender.push(b"two")
    receiver = crypto.StreamReceiver(bytes(32), sender.header)
    with pytest.raises(DecryptError):
        receiver.pull(second)
    replay = crypto.StreamReceiver(bytes(32), sender.header)
    assert replay.pull(first) == b"one"
    with pytest.raises(DecryptError):
        replay.pull(first)
