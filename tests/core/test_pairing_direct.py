"""Direct TCP hints in the sealed version, the direct key and a bind without SDPs.

Two real ``Pairing`` sides in memory; a "modified peer" is one whose version
plaintext is sealed by hand with the PAKE key it honestly derived.
"""

from __future__ import annotations

import msgpack
import nacl.signing
import pytest

from p2pchat.core import crypto
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake import Pairing, PairingState
from p2pchat.core.handshake.version import MAX_DIRECT_HINTS, decode_direct_hints
from p2pchat.core.keys import Capabilities

CODE = "7-aardvark-adroitness-absurd"
SIDE_A, SIDE_B = "aaaa000001", "bbbb000002"  # A sorts first: A offers, A leads
OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
ANSWER = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def side(name: str, hints=None) -> Pairing:
    return Pairing(
        CODE,
        name,
        nacl.signing.SigningKey.generate(),
        Capabilities(label=name),
        direct_hints=hints,
    )


def verified(a: Pairing, b: Pairing) -> None:
    """pake and version both ways: both know their role, no SDP crossed."""
    pake_a, pake_b = a.start()[0].body, b.start()[0].body
    version_b = b.receive("pake", SIDE_A, pake_a)[0].body
    version_a = a.receive("pake", SIDE_B, pake_b)[0].body
    a.receive("version", SIDE_B, version_b)
    b.receive("version", SIDE_A, version_a)


def test_hints_travel_in_the_version_and_a_side_without_them_says_none():
    a, b = side(SIDE_A, [("127.0.0.1", 4242), ("192.168.1.20", 5000)]), side(SIDE_B)
    verified(a, b)
    assert b.peer_direct == (("127.0.0.1", 4242), ("192.168.1.20", 5000))
    assert a.peer_direct is None  # B takes no part (as an older release would)


def test_an_empty_hint_list_still_says_the_side_takes_part():
    a, b = side(SIDE_A, [("127.0.0.1", 4242)]), side(SIDE_B, [])
    verified(a, b)
    assert a.peer_direct == ()


def test_both_sides_choose_direct_and_their_binds_verify_without_sdps():
    a, b = side(SIDE_A, [("127.0.0.1", 4242)]), side(SIDE_B, [])
    verified(a, b)
    assert a.direct_key() == b.direct_key()
    a.choose_direct()
    b.choose_direct()
    assert a.state is b.state is PairingState.SDP_DONE
    keys_b = b.receive_bind(a.bind_message())
    keys_a = a.receive_bind(b.bind_message())
    assert keys_a.transcript == keys_b.transcript
    assert keys_a.send_keys == keys_b.recv_keys
    assert a.remote_sdp is None and b.remote_sdp is None


def test_direct_chosen_after_the_sdps_crossed_still_agrees():
    """The leader's direct link may open while ICE is still checking."""
    a, b = side(SIDE_A, [("127.0.0.1", 4242)]), side(SIDE_B, [])
    verified(a, b)
    offer = a.seal_sdp(OFFER)
    b.receive(offer.phase, SIDE_A, offer.body)
    answer = b.seal_sdp(ANSWER)
    a.receive(answer.phase, SIDE_B, answer.body)
    webrtc_transcript = a.transcript()
    a.choose_direct()
    b.choose_direct()
    assert a.transcript() == b.transcript() != webrtc_transcript
    b.receive_bind(a.bind_message())


def test_a_bind_over_direct_does_not_verify_on_a_side_that_took_the_sdps():
    a, b = side(SIDE_A, [("127.0.0.1", 4242)]), side(SIDE_B, [])
    verified(a, b)
    offer = a.seal_sdp(OFFER)
    b.receive(offer.phase, SIDE_A, offer.body)
    b.seal_sdp(ANSWER)
    a.choose_direct()
    with pytest.raises(RemoteProtocolError):
        b.receive_bind(a.bind_message())


def test_direct_key_and_choice_only_after_the_version_and_once():
    a, b = side(SIDE_A, [("127.0.0.1", 4242)]), side(SIDE_B, [])
    with pytest.raises(LocalProtocolError):
        a.direct_key()
    with pytest.raises(LocalProtocolError):
        a.choose_direct()
    verified(a, b)
    a.choose_direct()
    with pytest.raises(LocalProtocolError):
        a.choose_direct()
    b.choose_direct()
    b.receive_bind(a.bind_message())
    with pytest.raises(LocalProtocolError):
        b.choose_direct()


def test_direct_keys_differ_between_pairings():
    first = side(SIDE_A, []), side(SIDE_B, [])
    second = side(SIDE_A, []), side(SIDE_B, [])
    verified(*first)
    verified(*second)
    assert first[0].direct_key() != second[0].direct_key()


@pytest.mark.parametrize(
    "hints",
    [
        [("8.8.8.8", 1)],
        [("127.0.0.1", 0)],
        [("127.0.0.1", 70000)],
        [("localhost", 4242)],
        [("127.0.0.1", 1)] * (MAX_DIRECT_HINTS + 1),
    ],
)
def test_we_never_announce_what_the_peer_would_not_keep(hints):
    with pytest.raises(LocalProtocolError):
        side(SIDE_A, hints)


def _modified_version(b: Pairing, a: Pairing, direct: object) -> bytes:
    """B's version with ``direct`` put in by hand, sealed as B would seal it."""
    fields = msgpack.unpackb(b._own_version, raw=False)
    fields["direct"] = direct
    pake_key = b._pake_key
    assert pake_key is not None
    plaintext = msgpack.packb(fields, use_bin_type=True)
    return crypto.seal(crypto.phase_key(pake_key, SIDE_B, "version"), plaintext)


def _a_receives(direct: object) -> Pairing:
    a, b = side(SIDE_A, []), side(SIDE_B, [])
    pake_a, pake_b = a.start()[0].body, b.start()[0].body
    b.receive("pake", SIDE_A, pake_a)
    a.receive("pake", SIDE_B, pake_b)
    a.receive("version", SIDE_B, _modified_version(b, a, direct))
    return a


def test_foreign_addresses_in_a_peers_hints_are_dropped():
    a = _a_receives(
        [
            ["8.8.8.8", 4242],  # public
            ["224.0.0.1", 4242],  # multicast
            ["0.0.0.0", 4242],
            ["fe80::1", 4242],  # link-local v6: needs a scope the peer cannot give us
            ["fe80::1%eth0", 4242],
            ["::ffff:10.0.0.1", 4242],
            ["10.0.0.7", 4242],
            ["10.0.0.7", 4242],  # a repeat is kept once
        ]
    )
    assert a.peer_direct == (("10.0.0.7", 4242),)


@pytest.mark.parametrize(
    "direct",
    [
        "10.0.0.7:4242",
        {"10.0.0.7": 4242},
        [["10.0.0.7"]],
        [["10.0.0.7", 4242, 1]],
        [["10.0.0.7", "4242"]],
        [["10.0.0.7", True]],
        [["10.0.0.7", 0]],
        [["10.0.0.7", 65536]],
        [["10.0.0.7", -1]],
        [["10.0.0.7", 2**64 - 1]],
        [[b"10.0.0.7", 4242]],
        [["1" * 100, 4242]],
        [["", 4242]],
        [["10.0.0.7", 4242]] * (MAX_DIRECT_HINTS + 1),
        [None],
    ],
)
def test_malformed_hints_fail_the_pairing_clearly(direct):
    with pytest.raises(RemoteProtocolError, match="direct hint"):
        _a_receives(direct)


def test_the_decoder_keeps_only_private_and_loopback_literals():
    assert decode_direct_hints(
        [["192.168.0.1", 1], ["172.16.0.1", 2], ["169.254.1.1", 3], ["fd00::1", 4], ["::1", 5]]
    ) == (("192.168.0.1", 1), ("172.16.0.1", 2), ("169.254.1.1", 3), ("fd00::1", 4), ("::1", 5))
    assert decode_direct_hints([["172.32.0.1", 1], ["100.64.0.1", 2], ["example.com", 3]]) == ()


def test_a_huge_hint_list_is_refused_before_it_is_decoded():
    with pytest.raises(RemoteProtocolError, match="too large"):
        _a_receives([["1" * 10_000, 4242]])


def test_where_we_listen_is_said_before_the_pake_and_only_by_a_side_that_takes_part():
    a, b = side(SIDE_A, []), side(SIDE_B, [])
    a.listen_at([("127.0.0.1", 4242)])  # A sorts first: it will lead
    with pytest.raises(LocalProtocolError):
        side(SIDE_A).listen_at([("127.0.0.1", 4242)])  # takes no part
    with pytest.raises(LocalProtocolError):
        a.listen_at([("8.8.8.8", 1)])
    verified(a, b)
    assert b.peer_direct == (("127.0.0.1", 4242),)
    assert a.peer_direct == ()
    with pytest.raises(LocalProtocolError):
        b.listen_at([("127.0.0.1", 1)])  # our version is sealed already
