"""The rules the four handshakes share, tested once for all of them.

``core.handshake``'s skeleton holds the transcript and the bind for the mailbox
pairing, the mailbox reconnect, the copy-paste first contact and the copy-paste
meeting with a pinned contact. Each test here is parametrised over the four, so
a rule is written once and a variant that breaks it shows by name. Each variant
is driven with a seeded random source up to the point where both binds are due;
the known answers pin the wire bytes and keys, so moving code cannot change them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.signing
import pytest

from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError
from p2pchat.core.handshake import (
    BIND_MESSAGE_SIZE,
    ManualPairing,
    ManualReconnect,
    Pairing,
    PasteState,
    Reconnect,
    manual_code,
)
from p2pchat.core.handshake.skeleton import Table
from p2pchat.core.keys import Capabilities, Channel, SessionKeys
from tests.contacts.test_manual_core import ONE_CANDIDATE_SDP, SDP
from tests.core.conftest import ANSWER_SDP, CODE, OFFER_SDP, deterministic_random, identity_from

PSK = bytes(range(32))


@dataclass
class Run:
    """Two sides of one handshake with both SDPs exchanged; ``wire`` is every message sent."""

    a: Any
    b: Any
    wire: list[bytes]


Early = Callable[[Run], None] | None  # called with the two sides before they start


def _identities() -> tuple[nacl.signing.SigningKey, nacl.signing.SigningKey]:
    return identity_from(b"alice"), identity_from(b"bob")


def _pairing(seed: bytes, early: Early = None) -> Run:
    alice, bob = _identities()
    a = Pairing(CODE, "aaaa000001", alice, Capabilities(label="A"), random=_rand(seed, b"a"))
    b = Pairing(CODE, "bbbb000002", bob, Capabilities(label="B"), random=_rand(seed, b"b"))
    run = Run(a, b, [])
    if early is not None:
        early(run)
    (pake_a,), (pake_b,) = a.start(), b.start()
    (version_b,) = b.receive(pake_a.phase, a.side, pake_a.body)
    (version_a,) = a.receive(pake_b.phase, b.side, pake_b.body)
    a.receive(version_b.phase, b.side, version_b.body)
    b.receive(version_a.phase, a.side, version_a.body)
    offer = a.seal_sdp(OFFER_SDP)
    b.receive(offer.phase, a.side, offer.body)
    answer = b.seal_sdp(ANSWER_SDP)
    a.receive(answer.phase, b.side, answer.body)
    run.wire = [m.body for m in (pake_a, pake_b, version_a, version_b, offer, answer)]
    return run


def _reconnect(seed: bytes, early: Early = None) -> Run:
    alice, bob = _identities()
    a = Reconnect(
        PSK, "aaaa", alice, bytes(bob.verify_key), Capabilities(label="A"), random=_rand(seed, b"a")
    )
    b = Reconnect(
        PSK, "bbbb", bob, bytes(alice.verify_key), Capabilities(label="B"), random=_rand(seed, b"b")
    )
    run = Run(a, b, [])
    if early is not None:
        early(run)
    (hello_a,), (hello_b,) = a.start(), b.start()
    (ready,) = b.receive(hello_a.phase, a.side, hello_a.body)
    a.receive(hello_b.phase, b.side, hello_b.body)
    a.receive(ready.phase, b.side, ready.body)
    offer = a.seal_sdp(OFFER_SDP)
    b.receive(offer.phase, a.side, offer.body)
    answer = b.seal_sdp(ANSWER_SDP)
    a.receive(answer.phase, b.side, answer.body)
    run.wire = [m.body for m in (hello_a, hello_b, ready, offer, answer)]
    return run


def _manual(seed: bytes, early: Early = None) -> Run:
    alice, bob = _identities()
    code = manual_code(_rand(seed, b"code"))
    a = ManualPairing(code, True, alice, Capabilities(label="A"), random=_rand(seed, b"a"))
    b = ManualPairing(code, False, bob, Capabilities(label="B"), random=_rand(seed, b"b"))
    run = Run(a, b, [])
    if early is not None:
        early(run)
    first = a.first_blob()
    second = b.second_blob(first, SDP)
    a.receive_second(second)
    third = a.third_blob(ONE_CANDIDATE_SDP)
    b.receive_third(third)
    run.wire = [blob.encode() for blob in (first, second, third)]
    return run


def _manual_pinned(seed: bytes, early: Early = None) -> Run:
    alice, bob = _identities()
    a = ManualReconnect(
        PSK, True, alice, bytes(bob.verify_key), Capabilities(label="A"), random=_rand(seed, b"a")
    )
    b = ManualReconnect(
        PSK, False, bob, bytes(alice.verify_key), Capabilities(label="B"), random=_rand(seed, b"b")
    )
    run = Run(a, b, [])
    if early is not None:
        early(run)
    first = a.first_blob(SDP)
    b.receive_first(first)
    second = b.second_blob(ONE_CANDIDATE_SDP)
    a.receive_second(second)
    run.wire = [blob.encode() for blob in (first, second)]
    return run


def _rand(seed: bytes, who: bytes) -> Callable[[int], bytes]:
    return deterministic_random(seed + b"/" + who)


VARIANTS: dict[str, Callable[..., Run]] = {
    "pairing": _pairing,
    "reconnect": _reconnect,
    "manual": _manual,
    "manual_pinned": _manual_pinned,
}
variants = pytest.mark.parametrize("make", VARIANTS.values(), ids=VARIANTS.keys())

# sha256 over every wire message, the transcript, both binds and side a's session keys, for the
# seed b"kat": the bytes on the wire and the key schedule of each variant, pinned.
KNOWN_ANSWERS = {
    "pairing": "64b6e6a098943e05de0963c1ac0416b060fc03f22a2c7cf63db1be5ce9e87c42",
    "reconnect": "8836145b1f48a2e18ee61ab4ad8df7a11e3d5cb6892bd3c555c6734c166e9542",
    "manual": "d22bb6484c28eae6c09e3c77d820b84e6033902295169df119517501bea96075",
    "manual_pinned": "aec689f403c069bdd158d21fd1ccdea9dd0345f63d91db0a8157451e2126ac45",
}


def _digest(run: Run, keys: SessionKeys) -> str:
    digest = hashlib.sha256()
    for item in [
        *run.wire,
        run.a.transcript(),
        run.a.bind_message(),
        run.b.bind_message(),
        *(keys.send_keys[c] for c in Channel),
        *(keys.recv_keys[c] for c in Channel),
        keys.reconnect_psk,
        keys.previous_psk,
        keys.safety_number.encode(),
    ]:
        digest.update(len(item).to_bytes(8, "big") + item)
    return digest.hexdigest()


@pytest.mark.parametrize("name", VARIANTS)
def test_wire_bytes_and_keys_known_answers(name: str) -> None:
    run = VARIANTS[name](b"kat")
    keys = run.a.receive_bind(run.b.bind_message())
    assert _digest(run, keys) == KNOWN_ANSWERS[name]


@variants
def test_both_sides_bind_and_derive_mirrored_keys(make: Callable[..., Run]) -> None:
    run = make(b"happy")
    assert run.a.transcript() == run.b.transcript()
    bind_a, bind_b = run.a.bind_message(), run.b.bind_message()
    keys_a, keys_b = run.a.receive_bind(bind_b), run.b.receive_bind(bind_a)
    assert keys_a.send_keys == keys_b.recv_keys and keys_a.recv_keys == keys_b.send_keys
    assert keys_a.transcript == keys_b.transcript == run.a.transcript()
    assert keys_a.safety_number == keys_b.safety_number == run.a.safety_number
    alice, bob = _identities()
    assert keys_a.peer_identity == run.a.peer_identity == bytes(bob.verify_key)
    assert keys_b.peer_identity == run.b.peer_identity == bytes(alice.verify_key)
    assert keys_a.role != keys_b.role
    # The side that bound first still sends its own bind (link_choice does so).
    assert run.b.bind_message() == bind_b


@variants
def test_a_tampered_transcript_byte_fails_the_bind(make: Callable[..., Run]) -> None:
    run = make(b"tamper")
    true_transcript = run.b.transcript()
    for index in (0, len(true_transcript) - 1):
        tampered = bytearray(true_transcript)
        tampered[index] ^= 0x01
        # The peer signs and MACs a transcript one byte off from ours (its own view of
        # the exchange differs), with all its keys right: the MAC must catch it.
        run.b.transcript = lambda t=bytes(tampered): t  # type: ignore[method-assign]
        forged = run.b.bind_message()
        victim = make(b"tamper").a
        with pytest.raises(RemoteProtocolError, match="MAC"):
            victim.receive_bind(forged)


@variants
@pytest.mark.parametrize("index", [0, 63, 64, BIND_MESSAGE_SIZE - 1])
def test_a_flipped_bind_byte_is_refused_and_the_attempt_is_over(
    make: Callable[..., Run], index: int
) -> None:
    run = make(b"flip")
    genuine = run.b.bind_message()
    flipped = bytearray(genuine)
    flipped[index] ^= 0x80
    with pytest.raises(RemoteProtocolError):
        run.a.receive_bind(bytes(flipped))
    # The first failure is final: neither the genuine bind nor our own goes through now.
    with pytest.raises(LocalProtocolError):
        run.a.receive_bind(genuine)
    with pytest.raises(LocalProtocolError):
        run.a.bind_message()


@variants
def test_a_bind_before_its_time_is_refused_and_changes_nothing(make: Callable[..., Run]) -> None:
    refused: list[str] = []

    def too_early(run: Run) -> None:
        for call in (
            lambda: run.a.receive_bind(bytes(BIND_MESSAGE_SIZE)),
            run.a.bind_message,
            run.a.transcript,
        ):
            with pytest.raises(LocalProtocolError):
                call()
            refused.append("yes")

    # A local misuse, not the peer's doing: the same handshake still completes.
    run = make(b"early", too_early)
    assert refused == ["yes"] * 3
    assert run.a.receive_bind(run.b.bind_message()).transcript == run.a.transcript()


@variants
def test_a_bind_is_accepted_once(make: Callable[..., Run]) -> None:
    run = make(b"once")
    bind_b = run.b.bind_message()
    run.a.receive_bind(bind_b)
    with pytest.raises(LocalProtocolError):
        run.a.receive_bind(bind_b)


@variants
def test_our_own_bind_reflected_is_refused(make: Callable[..., Run]) -> None:
    run = make(b"reflect")
    with pytest.raises(RemoteProtocolError):
        run.a.receive_bind(run.a.bind_message())


@variants
@pytest.mark.parametrize("size", [0, BIND_MESSAGE_SIZE - 1, BIND_MESSAGE_SIZE + 1])
def test_a_bind_of_the_wrong_size_is_refused(make: Callable[..., Run], size: int) -> None:
    run = make(b"size")
    with pytest.raises(RemoteProtocolError, match=f"{BIND_MESSAGE_SIZE} bytes"):
        run.a.receive_bind(bytes(size))


@variants
def test_a_bind_from_another_run_of_the_same_people_is_refused(make: Callable[..., Run]) -> None:
    first, second = make(b"first"), make(b"second")
    with pytest.raises(RemoteProtocolError):
        first.a.receive_bind(second.b.bind_message())


def test_a_table_that_does_not_bind_from_bind_due_to_bound_is_refused() -> None:
    s = PasteState
    rows: dict[PasteState, dict[object, PasteState]] = {state: {} for state in PasteState}
    with pytest.raises(LocalProtocolError, match="bind_due"):
        Table(rows, s.IDLE, s.SDP_DONE, s.PAIRED, s.FAILED, "bind")  # type: ignore[arg-type]
    rows[s.SDP_DONE] = {"bind": s.PAIRED}
    rows[s.FAILED] = {"bind": s.IDLE}
    with pytest.raises(LocalProtocolError, match="final"):
        Table(rows, s.IDLE, s.SDP_DONE, s.PAIRED, s.FAILED, "bind")  # type: ignore[arg-type]
