"""The copy-paste blob format and compact SDPs (no network)."""

from __future__ import annotations

import nacl.signing
import pytest

from p2pchat.core.errors import RemoteProtocolError, WrongCode
from p2pchat.core.keys import Capabilities
from p2pchat.core.manual import (
    KIND_PAKE_1,
    KIND_PINNED_1,
    InvalidBlob,
    ManualPairing,
    compact_sdp,
    decode_blob,
    encode_blob,
    expand_sdp,
    manual_code,
)

SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
    "m=application 40000 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n"
    "a=mid:0\r\na=sctp-port:5000\r\n"
    "a=candidate:abc 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"
    "a=candidate:def 1 udp 1694498815 203.0.113.7 5000 typ srflx raddr 10.0.0.2 rport 40000\r\n"
    "a=end-of-candidates\r\na=ice-ufrag:y7Y4\r\na=ice-pwd:zUXGr9bNue2YHFbY6ETfVt\r\n"
    "a=fingerprint:sha-256 " + ":".join(["5E"] * 32) + "\r\n"
    "a=fingerprint:sha-384 " + ":".join(["D1"] * 48) + "\r\na=setup:actpass\r\n"
)


def test_compact_sdp_keeps_what_aiortc_needs() -> None:
    compact = compact_sdp(SDP)
    assert len(compact) < 160
    full = expand_sdp(compact)
    for needed in (
        "a=ice-ufrag:y7Y4",
        "a=ice-pwd:zUXGr9bNue2YHFbY6ETfVt",
        "a=fingerprint:sha-256 " + ":".join(["5E"] * 32),
        "a=setup:actpass",
        "127.0.0.1 40000 typ host",
        "203.0.113.7 5000 typ srflx raddr 10.0.0.2 rport 40000",
    ):
        assert needed in full
    assert expand_sdp(compact_sdp(full)) == full


@pytest.mark.parametrize(
    "compact",
    [
        "",
        "a b c d e f",
        "u p 9 AAAA 127.0.0.1,1,host,1",
        "u p 0 AAAA 127.0.0.1,1,host,1",  # fingerprint too short
        "u p 0 " + "A" * 43 + " 999.0.0.1,1,host,1",
        "u p 0 " + "A" * 43 + " 127.0.0.1,70000,host,1",
        "u p 0 " + "A" * 43 + " 127.0.0.1,1,evil,1",
        "u\r\na=x p 0 " + "A" * 43 + " 127.0.0.1,1,host,1",
    ],
)
def test_malformed_compact_sdp_is_refused(compact: str) -> None:
    with pytest.raises(RemoteProtocolError):
        expand_sdp(compact)


def test_blob_round_trip_and_checks() -> None:
    text = encode_blob(KIND_PINNED_1, [b"hello", b"offer"])
    assert decode_blob(text, KIND_PINNED_1) == [b"hello", b"offer"]
    assert decode_blob(" " + text[:20] + "\n" + text[20:] + " ", KIND_PINNED_1)  # re-wrapped
    with pytest.raises(InvalidBlob, match="expected at this step"):
        decode_blob(text, KIND_PAKE_1)
    with pytest.raises(InvalidBlob, match="not a p2pchat blob"):
        decode_blob("hello" + text, KIND_PINNED_1)
    with pytest.raises(InvalidBlob, match=r"damaged|incomplete"):
        decode_blob(text[:-4], KIND_PINNED_1)
    with pytest.raises(InvalidBlob, match="longer"):
        decode_blob(text + "A" * 10_000, KIND_PINNED_1)


def test_wrong_code_is_detected_by_the_inviter() -> None:
    code = manual_code()
    other = manual_code()
    while other.split("-")[1:] == code.split("-")[1:]:
        other = manual_code()
    inviter = ManualPairing(code, True, nacl.signing.SigningKey.generate(), Capabilities())
    joiner = ManualPairing(other, False, nacl.signing.SigningKey.generate(), Capabilities())
    second = joiner.second_blob(inviter.first_blob(), SDP)
    with pytest.raises(WrongCode):
        inviter.receive_second(second)
