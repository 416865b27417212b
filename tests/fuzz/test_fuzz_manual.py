"""Fuzzing what people paste: copy-paste blobs (``core.handshake.manual``, ``manual_pinned``).

A pasted blob is text from anywhere (a chat, an e-mail, a QR reader, an attacker
who watched the channel). Inputs: arbitrary text, mutations of real blobs of
every kind (the seeds: a full first contact and a pinned meeting, recorded once),
and well-formed blob wrappers (right prefix and check) around arbitrary fields,
which reach past the checksum into the sealed parts and the SDP parser. Every
input must be refused with a ``P2PChatError`` or accepted; nothing else may
escape, and a refused paste leaves no usable keys behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import nacl.secret
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import LocalProtocolError, P2PChatError
from p2pchat.core.handshake import BIND_MESSAGE_SIZE
from p2pchat.core.handshake.blobs import (
    KIND_PAKE_1,
    KIND_PAKE_2,
    KIND_PAKE_3,
    KIND_PINNED_1,
    KIND_PINNED_2,
    compact_sdp,
    encode_blob,
    expand_sdp,
)
from p2pchat.core.handshake.manual import ManualPairing, manual_code
from p2pchat.core.handshake.manual_pinned import SALT_SIZE, ManualReconnect, _psk_key
from p2pchat.core.handshake.version import pack_version
from p2pchat.core.keys import Capabilities
from tests.contacts.test_manual_core import SDP
from tests.fuzz.conftest import assert_only_p2pchat_errors, mutated

FAST = settings(max_examples=300, deadline=None, database=None)
LONG = settings(max_examples=5_000, deadline=None, database=None)

CODE = manual_code()
PSK = bytes(range(32))
ALICE = nacl.signing.SigningKey(bytes(range(1, 33)))
BOB = nacl.signing.SigningKey(bytes(range(2, 34)))


def first_contact(inviter: bool) -> ManualPairing:
    return ManualPairing(CODE, inviter, ALICE if inviter else BOB, Capabilities())


def pinned(inviter: bool) -> ManualReconnect:
    me, peer = (ALICE, BOB) if inviter else (BOB, ALICE)
    return ManualReconnect(PSK, inviter, me, bytes(peer.verify_key), Capabilities())


def recorded_blobs() -> dict[int, str]:
    inviter, joiner = first_contact(True), first_contact(False)
    first = inviter.first_blob()
    second = joiner.second_blob(first, SDP)
    inviter.receive_second(second)
    third = inviter.third_blob(SDP)
    host, guest = pinned(True), pinned(False)
    pinned_first = host.first_blob(SDP)
    guest.receive_first(pinned_first)
    return {
        KIND_PAKE_1: first,
        KIND_PAKE_2: second,
        KIND_PAKE_3: third,
        KIND_PINNED_1: pinned_first,
        KIND_PINNED_2: guest.second_blob(SDP),
    }


BLOBS = recorded_blobs()
SEEDS = [blob.encode("ascii") for blob in BLOBS.values()]


def receivers() -> dict[int, tuple[Any, Callable[[str], object]]]:
    """For each kind, a fresh side at the step where that blob is pasted, and the paste."""
    waiting_for_second = first_contact(True)
    waiting_for_second.first_blob()
    waiting_for_third = first_contact(False)
    waiting_for_third.second_blob(first_contact(True).first_blob(), SDP)
    host = pinned(True)
    host.first_blob(SDP)
    joiner, guest = first_contact(False), pinned(False)
    return {
        KIND_PAKE_1: (joiner, lambda text: joiner.second_blob(text, SDP)),
        KIND_PAKE_2: (waiting_for_second, waiting_for_second.receive_second),
        KIND_PAKE_3: (waiting_for_third, waiting_for_third.receive_third),
        KIND_PINNED_1: (guest, guest.receive_first),
        KIND_PINNED_2: (host, host.receive_second),
    }


def paste(campaign: str, kind: int, text: str) -> None:
    side, receive = receivers()[kind]
    result = assert_only_p2pchat_errors(campaign, lambda: receive(text), text)
    if isinstance(result, str) and kind != KIND_PAKE_1:
        # Accepted: only possible for an unmodified recording (a real SDP came out).
        assert "a=fingerprint:sha-256" in result
    if isinstance(result, P2PChatError):
        # Refused, whether the side may take another paste or failed for good: it
        # signs no bind and accepts none (a LocalProtocolError, never a crash).
        with pytest.raises(LocalProtocolError):
            side.bind_message()
        with pytest.raises(LocalProtocolError):
            side.receive_bind(bytes(BIND_MESSAGE_SIZE))


kinds = st.sampled_from(sorted(BLOBS))


def test_the_seeds_are_real_blobs() -> None:
    """Blobs that need no session of their own open for a fresh receiver; the others
    are sealed to the recorded session and are refused cleanly by any other."""
    for kind in (KIND_PAKE_1, KIND_PINNED_1):
        assert receivers()[kind][1](BLOBS[kind])
    for kind in (KIND_PAKE_2, KIND_PAKE_3, KIND_PINNED_2):
        assert isinstance(
            assert_only_p2pchat_errors("paste", lambda k=kind: receivers()[k][1](BLOBS[k]), kind),
            P2PChatError,
        )


@st.composite
def sealed_pinned_first(draw: st.DrawFn) -> str:
    """A first pinned blob sealed with the right key around hostile contents: past the
    box, into the version, SDP and signature checks."""
    salt = draw(st.binary(min_size=SALT_SIZE, max_size=SALT_SIZE))
    version = draw(
        st.one_of(
            st.binary(max_size=120),
            st.builds(
                lambda key, eph, label: pack_version(key, eph, Capabilities(label=label)),
                st.sampled_from([bytes(ALICE.verify_key), bytes(BOB.verify_key)]),
                st.binary(min_size=32, max_size=32),
                st.text(max_size=20),
            ),
        )
    )
    sdp = draw(st.one_of(st.binary(max_size=200), st.just(compact_sdp(SDP).encode())))
    signature = draw(st.binary(min_size=0, max_size=70))
    fields = draw(st.sampled_from([[version, sdp, signature], [version, sdp], [version]]))
    payload = msgpack.packb(fields, use_bin_type=True)
    box = nacl.secret.SecretBox(_psk_key(PSK, b"0|" + salt))
    return encode_blob(KIND_PINNED_1, [salt, bytes(box.encrypt(payload, bytes(24)).ciphertext)])


@FAST
@given(sealed_pinned_first())
def test_sealed_pinned_contents(blob: str) -> None:
    result = assert_only_p2pchat_errors("paste", lambda: pinned(False).receive_first(blob), blob)
    assert isinstance(result, P2PChatError), "a forged blob was accepted"


@FAST
@given(kinds, st.text(max_size=600))
def test_arbitrary_text(kind: int, text: str) -> None:
    paste("paste", kind, text)


@FAST
@given(kinds, mutated(SEEDS))
def test_mutated_blobs(kind: int, data: bytes) -> None:
    paste("paste", kind, data.decode("latin-1"))


@FAST
@given(kinds, st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_well_formed_wrappers_around_anything(kind: int, fields: list[bytes]) -> None:
    expected = 1 if kind in (KIND_PAKE_1, KIND_PAKE_3) else 2
    fields = (fields * 3)[:expected]
    paste("paste", kind, encode_blob(kind, fields))


@FAST
@given(st.text(max_size=300))
def test_compact_sdp_parser(text: str) -> None:
    assert_only_p2pchat_errors("paste", lambda: expand_sdp(text), text)


@pytest.mark.slow
@LONG
@given(kinds, st.one_of(mutated(SEEDS, max_edits=16), st.binary(max_size=800)))
def test_long_campaign(kind: int, data: bytes) -> None:
    paste("paste", kind, data.decode("latin-1"))
