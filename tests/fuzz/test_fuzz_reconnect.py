"""Fuzzing the code-free reconnect's inputs (``Reconnect.receive``), issue 19's class.

The class: *nothing that holds an address is sent before the contact proved
itself in this meeting*. A real meeting between two deterministic sides is
recorded once (so a fresh copy of a side accepts the other's recorded messages),
plus an older meeting of the same pair (what a mailbox operator could replay).
Each example feeds a fresh side a sequence drawn from the genuine messages, the
old meeting's, mutations of both, and relabelled phases and sides. Only
``P2PChatError`` may come out, and the answerer may hold an offer to answer (the
offerer may offer) only when exactly the genuine messages arrived, in order.
"""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core.handshake import Reconnect
from p2pchat.core.keys import Capabilities
from tests.fuzz.conftest import assert_only_p2pchat_errors, mutated
from tests.fuzz.test_fuzz_pairing import fixed_random

PSK = bytes(range(7, 39))
SIDE_A, SIDE_B = "aaaa000001", "bbbb000002"  # A sorts first: A offers
ALICE = nacl.signing.SigningKey(hashlib.sha256(b"alice").digest())
BOB = nacl.signing.SigningKey(hashlib.sha256(b"bob").digest())
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
PHASES = ["hello", "ready", "offer", "answer", "pake", "", "offer\x00"]
FAST = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
LONG = settings(
    max_examples=4000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

Message = tuple[str, str, bytes]


def side(alice: bool, meeting: bytes) -> Reconnect:
    me, peer, name = (ALICE, BOB, SIDE_A) if alice else (BOB, ALICE, SIDE_B)
    return Reconnect(
        PSK,
        name,
        me,
        bytes(peer.verify_key),
        Capabilities(),
        random=fixed_random(meeting + bytes(me.verify_key)),
    )


def record(meeting: bytes) -> tuple[list[Message], list[Message]]:
    """One honest meeting: what Alice (offerer) and Bob (answerer) sent, in order."""
    a, b = side(True, meeting), side(False, meeting)
    (hello_a,) = a.start()
    (hello_b,) = b.start()
    (ready,) = b.receive("hello", SIDE_A, hello_a.body)
    a.receive("hello", SIDE_B, hello_b.body)
    a.receive("ready", SIDE_B, ready.body)
    offer = a.seal_sdp(SDP)
    b.receive("offer", SIDE_A, offer.body)
    answer = b.seal_sdp(SDP)
    a.receive("answer", SIDE_B, answer.body)
    sent_a = [("hello", SIDE_A, hello_a.body), ("offer", SIDE_A, offer.body)]
    sent_b = [
        ("hello", SIDE_B, hello_b.body),
        ("ready", SIDE_B, ready.body),
        ("answer", SIDE_B, answer.body),
    ]
    return sent_a, sent_b


NOW_A, NOW_B = record(b"today")
OLD_A, OLD_B = record(b"yesterday")
BODIES = [body for _, _, body in NOW_A + NOW_B + OLD_A + OLD_B]


@st.composite
def messages(draw: st.DrawFn, genuine: list[Message], old: list[Message]) -> list[Message]:
    pool = genuine + old
    chosen: list[Message] = []
    for _ in range(draw(st.integers(1, 5))):
        phase, sender, body = draw(st.sampled_from(pool))
        how = draw(st.sampled_from(["as is", "as is", "mutate", "phase", "side", "random"]))
        if how == "mutate":
            body = draw(mutated(BODIES))
        elif how == "phase":
            phase = draw(st.sampled_from(PHASES))
        elif how == "side":
            sender = draw(st.sampled_from([SIDE_A, SIDE_B, "0", "zzzz", "a" * 65]))
        elif how == "random":
            body = draw(st.binary(max_size=300))
        chosen.append((phase, sender, body))
    return chosen


def feed(fresh: Reconnect, sequence: list[Message]) -> None:
    fresh.start()
    for phase, sender, body in sequence:
        outcome = assert_only_p2pchat_errors(
            "reconnect", lambda p=phase, s=sender, b=body: fresh.receive(p, s, b), body
        )
        if not isinstance(outcome, list):
            return


def check_answerer(sequence: list[Message]) -> None:
    bob = side(False, b"today")
    feed(bob, sequence)
    if bob.role is not None or bob.remote_sdp is not None:
        assert sequence[:2] == NOW_A, "the answerer would answer an offer not from this meeting"


def check_offerer(sequence: list[Message]) -> None:
    alice = side(True, b"today")
    feed(alice, sequence)
    if alice.role is not None:
        assert sequence[:2] == NOW_B[:2], "the offerer would offer to someone not proven live"


@FAST
@given(messages(NOW_A, OLD_A))
def test_fuzz_the_answerer_answers_only_this_meetings_offer(sequence: list[Message]) -> None:
    check_answerer(sequence)


@FAST
@given(messages(NOW_B, OLD_B))
def test_fuzz_the_offerer_offers_only_after_this_meetings_ready(sequence: list[Message]) -> None:
    check_offerer(sequence)


def test_the_genuine_sequences_do_get_through() -> None:
    # The properties above must not hold vacuously.
    bob = side(False, b"today")
    feed(bob, NOW_A)
    assert bob.remote_sdp == SDP
    alice = side(True, b"today")
    feed(alice, NOW_B[:2])
    assert alice.role == "offerer"


def test_the_old_meeting_replayed_gets_nothing() -> None:
    bob = side(False, b"today")
    feed(bob, OLD_A)
    assert bob.remote_sdp is None and bob.role is None
    alice = side(True, b"today")
    feed(alice, OLD_B[:2])
    assert alice.role is None


@pytest.mark.slow
@LONG
@given(messages(NOW_A, OLD_A), messages(NOW_B, OLD_B))
def test_fuzz_reconnect_long(to_bob: list[Message], to_alice: list[Message]) -> None:
    check_answerer(to_bob)
    check_offerer(to_alice)
