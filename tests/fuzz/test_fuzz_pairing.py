"""Fuzzing the pairing state machine's inputs (``Pairing.receive`` and ``receive_bind``).

A real pairing between two deterministic sides is recorded once; because each
side's randomness is a fixed stream, a fresh copy of one side accepts the other
side's recorded messages. Each example replays that conversation to a fresh side
with the messages mutated, dropped, repeated, reordered or re-labelled (phase and
side), and then the bind. Two stronger adversaries also play: a mailbox that sends
arbitrary bodies, and a peer who knows the code and seals arbitrary plaintexts
(so the version and SDP decoders behind the encryption are reached too), with
hostile direct TCP hints among the version's fields; the hints' decoder is also
fuzzed on its own: it refuses, or keeps only private and loopback IP literals.
Only ``P2PChatError`` may come out; after one, the side must stay dead.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

import msgpack
import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core import crypto
from p2pchat.core.errors import RemoteProtocolError
from p2pchat.core.handshake import Pairing, PairingState
from p2pchat.core.handshake.version import (
    MAX_DIRECT_HINTS,
    decode_direct_hints,
    hint_address_allowed,
)
from p2pchat.core.keys import Capabilities
from tests.fuzz.conftest import FuzzCrash, assert_only_p2pchat_errors, mutated

CODE = "7-aardvark-adroitness-absurd"
SIDE_A, SIDE_B = "aaaa000001", "bbbb000002"  # A sorts first: A offers
OFFER = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
ANSWER = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
PHASES = ["pake", "version", "offer", "answer", "bind", "error", "", "PAKE", "version\x00"]
FAST = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
LONG = settings(
    max_examples=4000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def fixed_random(seed: bytes) -> Callable[[int], bytes]:
    counter = itertools.count()

    def random(size: int) -> bytes:
        return hashlib.shake_256(seed + next(counter).to_bytes(8, "big")).digest(size)

    return random


def make_side(side: str) -> Pairing:
    seed = side.encode()
    identity = nacl.signing.SigningKey(hashlib.sha256(seed).digest())
    return Pairing(CODE, side, identity, Capabilities(label=side), random=fixed_random(seed))


def record() -> dict[str, list[tuple[str, bytes]]]:
    """Run one honest pairing; return what each side sent (phase, body), bind last."""
    a, b = make_side(SIDE_A), make_side(SIDE_B)
    sent: dict[str, list[tuple[str, bytes]]] = {SIDE_A: [], SIDE_B: []}
    for who, out in ((SIDE_A, a.start()), (SIDE_B, b.start())):
        sent[who] += [(o.phase, o.body) for o in out]
    sent[SIDE_B] += [(o.phase, o.body) for o in b.receive("pake", SIDE_A, sent[SIDE_A][0][1])]
    sent[SIDE_A] += [(o.phase, o.body) for o in a.receive("pake", SIDE_B, sent[SIDE_B][0][1])]
    b.receive("version", SIDE_A, sent[SIDE_A][1][1])
    a.receive("version", SIDE_B, sent[SIDE_B][1][1])
    offer = a.seal_sdp(OFFER)
    sent[SIDE_A].append((offer.phase, offer.body))
    b.receive(offer.phase, SIDE_A, offer.body)
    answer = b.seal_sdp(ANSWER)
    sent[SIDE_B].append((answer.phase, answer.body))
    a.receive(answer.phase, SIDE_B, answer.body)
    sent[SIDE_A].append(("bind", a.bind_message()))
    sent[SIDE_B].append(("bind", b.bind_message()))
    assert a.receive_bind(sent[SIDE_B][-1][1]).safety_number == b.safety_number
    return sent


RECORDED = record()
PEER_OF = {SIDE_A: SIDE_B, SIDE_B: SIDE_A}
ALL_BODIES = [body for messages in RECORDED.values() for _, body in messages]


def replay(victim_side: str, messages: list[tuple[str, str, bytes]]) -> Pairing:
    """Feed ``messages`` (phase, sender side, body) to a fresh side; answer like p2pchat."""
    victim = make_side(victim_side)
    victim.start()
    dead = False
    for phase, sender, body in messages:
        if phase == "bind" and victim.state is PairingState.SDP_DONE:
            # ChatService calls receive_bind only then; any other "bind" is a mailbox phase.
            action = lambda v=victim, b=body: v.receive_bind(b)  # noqa: E731
        else:
            action = lambda v=victim, p=phase, s=sender, b=body: v.receive(p, s, b)  # noqa: E731
        result = assert_only_p2pchat_errors("pairing", action, (phase, sender, body))
        if isinstance(result, Exception):
            dead = True
        elif dead:
            raise FuzzCrash(f"a failed pairing accepted {phase!r} afterwards")
        # Play our part so that later phases are reachable, as ChatService does.
        if not dead and victim.state is PairingState.MUST_OFFER:
            victim.seal_sdp(OFFER)
        elif not dead and victim.state is PairingState.MUST_ANSWER:
            victim.seal_sdp(ANSWER)
    if dead:
        assert victim.state is PairingState.FAILED
    return victim


@st.composite
def tampered_conversations(draw: st.DrawFn) -> tuple[str, list[tuple[str, str, bytes]]]:
    victim = draw(st.sampled_from([SIDE_A, SIDE_B]))
    peer = PEER_OF[victim]
    messages = [(phase, peer, body) for phase, body in RECORDED[peer]]
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(messages) - 1))
        phase, sender, body = messages[index]
        operation = draw(
            st.sampled_from(["mutate", "drop", "repeat", "swap", "phase", "side", "foreign"])
        )
        if operation == "mutate":
            messages[index] = (phase, sender, draw(mutated([body], max_edits=3)))
        elif operation == "drop" and len(messages) > 1:
            del messages[index]
        elif operation == "repeat":
            messages.insert(index, messages[index])
        elif operation == "swap" and index + 1 < len(messages):
            messages[index], messages[index + 1] = messages[index + 1], messages[index]
        elif operation == "phase":
            messages[index] = (draw(st.sampled_from(PHASES)), sender, body)
        elif operation == "side":
            side = draw(st.sampled_from([victim, "cccc000003", "", "x" * 65, "a b", "é"]))
            messages[index] = (phase, side, body)
        elif operation == "foreign":
            messages[index] = (phase, sender, draw(st.sampled_from(ALL_BODIES)))
    return victim, messages


HINT_HOSTS = [
    "10.0.0.1",
    "192.168.1.20",
    "127.0.0.1",
    "::1",
    "fd00::1",
    "8.8.8.8",
    "224.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "fe80::1%eth0",
    "::ffff:10.0.0.1",
    "010.0.0.1",
    "10.0.0.1 ",
    "localhost",
    "example.com",
    "",
    "1" * 46,
]


def direct_hint_values() -> st.SearchStrategy[object]:
    """What a hostile code holder may put under ``direct``: near-misses and nonsense."""
    port = st.one_of(
        st.integers(-5, 70_000), st.integers(-(2**63), 2**64 - 1), st.booleans(), st.none()
    )
    host = st.one_of(st.sampled_from(HINT_HOSTS), st.text(max_size=50), st.binary(max_size=8))
    hint = st.one_of(
        st.tuples(host, port).map(list),
        st.lists(st.one_of(host, port), max_size=3),
        st.text(max_size=20),
        st.integers(),
        st.none(),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    return st.one_of(
        st.lists(hint, max_size=MAX_DIRECT_HINTS + 3),
        st.text(max_size=20),
        st.integers(),
        st.none(),
        st.binary(max_size=20),
        st.dictionaries(st.text(max_size=10), st.integers(), max_size=3),
    )


@FAST
@given(direct_hint_values())
def test_direct_hints_are_refused_or_only_private_literals_are_kept(value):
    try:
        kept = decode_direct_hints(value)
    except RemoteProtocolError:
        return
    assert len(kept) <= MAX_DIRECT_HINTS and len(set(kept)) == len(kept)
    for host, port in kept:
        assert type(host) is str and hint_address_allowed(host), host
        assert type(port) is int and 0 < port < 65536


@st.composite
def code_holder_plaintexts(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """A peer who knows the code seals an arbitrary version / offer / answer plaintext."""
    phase = draw(st.sampled_from(["version", "offer", "answer"]))
    if phase == "version":
        fields = {
            "v": draw(st.one_of(st.just(1), st.integers(-5, 2**70), st.text(max_size=3))),
            "id": draw(st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40))),
            "eph": draw(
                st.one_of(
                    st.binary(min_size=32, max_size=32),
                    st.just(bytes(32)),
                    st.just(b"\x01" + bytes(31)),
                    st.binary(max_size=40),
                )
            ),
            "caps": draw(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "view_once": st.one_of(st.booleans(), st.integers()),
                            "max_image_bytes": st.one_of(st.integers(-(2**63), 2**64), st.floats()),
                            "max_text_chars": st.integers(-(2**63), 2**64),
                            "label": st.one_of(st.text(max_size=300), st.binary(max_size=8)),
                        }
                    ),
                    st.none(),
                    st.text(max_size=5),
                )
            ),
            "direct": draw(direct_hint_values()),
        }
        for key in draw(st.sets(st.sampled_from(list(fields)), max_size=2)):
            del fields[key]
        try:
            plaintext = bytes(msgpack.packb(fields, use_bin_type=True))
        except (OverflowError, ValueError, TypeError):
            plaintext = b"\xc1"
        if draw(st.booleans()):
            plaintext = draw(mutated([plaintext], max_edits=3))
    else:
        plaintext = draw(
            st.one_of(
                st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
                st.binary(max_size=300),
                mutated([OFFER.encode(), ANSWER.encode()], max_edits=4),
            )
        )
    return phase, phase, plaintext


def sealed_conversation(victim_side: str, phase: str, plaintext: bytes) -> list:
    """The honest conversation with one message replaced by a sealed ``plaintext``."""
    peer = PEER_OF[victim_side]
    # The peer's pake key is what both honest sides derived: rebuild it the same way.
    a, b = make_side(SIDE_A), make_side(SIDE_B)
    pake_a, pake_b = a.start()[0].body, b.start()[0].body
    b.receive("pake", SIDE_A, pake_a)
    peer_pairing = b if peer == SIDE_B else a
    if peer == SIDE_A:
        a.receive("pake", SIDE_B, pake_b)
    pake_key = peer_pairing._pake_key  # the adversary knows the code, hence this key
    assert pake_key is not None
    body = crypto.seal(crypto.phase_key(pake_key, peer, phase), plaintext)
    messages = []
    for recorded_phase, recorded_body in RECORDED[peer]:
        if recorded_phase == phase:
            recorded_body = body
        messages.append((recorded_phase, peer, recorded_body))
    return messages


def test_recorded_conversation_pairs_both_ways():
    for victim in (SIDE_A, SIDE_B):
        peer = PEER_OF[victim]
        side = replay(victim, [(p, peer, b) for p, b in RECORDED[peer]])
        assert side.state is PairingState.PAIRED


@FAST
@given(tampered_conversations())
def test_tampered_conversations(case):
    replay(*case)


@FAST
@given(st.sampled_from([SIDE_A, SIDE_B]), code_holder_plaintexts())
def test_code_holder_sends_arbitrary_plaintexts(victim, case):
    phase, _, plaintext = case
    if (phase == "offer" and victim == SIDE_A) or (phase == "answer" and victim == SIDE_B):
        phase = "answer" if victim == SIDE_A else "offer"  # the one this victim receives
    replay(victim, sealed_conversation(victim, phase, plaintext))


@FAST
@given(
    st.sampled_from([SIDE_A, SIDE_B]),
    st.lists(
        st.tuples(
            st.sampled_from(PHASES),
            st.sampled_from([SIDE_A, SIDE_B, "cccc000003"]),
            st.one_of(st.binary(max_size=200), st.sampled_from(ALL_BODIES)),
        ),
        max_size=6,
    ),
)
def test_mailbox_sends_anything(victim, messages):
    replay(victim, messages)


@pytest.mark.slow
@LONG
@given(
    st.one_of(
        tampered_conversations(),
        st.tuples(st.sampled_from([SIDE_A, SIDE_B]), code_holder_plaintexts()).map(
            lambda case: (case[0], sealed_conversation(case[0], case[1][0], case[1][2]))
        ),
    )
)
def test_long_campaign(case):
    replay(*case)
