"""The pairing state machine, two-sided in memory: success, wrong code, attacks, fuzzing."""

from __future__ import annotations

import copy
import os

import msgpack
import nacl.signing
import pytest
import spake2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core import crypto
from p2pchat.core.errors import (
    DecryptError,
    LocalProtocolError,
    P2PChatError,
    RemoteProtocolError,
    WrongCode,
)
from p2pchat.core.handshake import (
    APPID,
    BIND_MESSAGE_SIZE,
    PHASES,
    Outgoing,
    Pairing,
    PairingState,
)
from p2pchat.core.keys import Capabilities, Channel

PAIRED_STATES_AFTER_VERSION = {
    PairingState.MUST_OFFER,
    PairingState.AWAIT_OFFER,
    PairingState.AWAIT_ANSWER,
    PairingState.MUST_ANSWER,
    PairingState.SDP_DONE,
    PairingState.PAIRED,
}


# --- the good path ---------------------------------------------------------------------


def test_two_sides_pair_and_agree_on_everything(core):
    pair = core.make_pair()
    keys_a, keys_b = pair.run()

    assert pair.phases_sent() == ["pake", "pake", "version", "version", "offer", "answer"]
    assert (pair.a.role, pair.b.role) == ("offerer", "answerer")
    assert (keys_a.role, keys_b.role) == ("offerer", "answerer")
    assert pair.a.state is pair.b.state is PairingState.PAIRED
    assert pair.b.remote_sdp == core.OFFER_SDP
    assert pair.a.remote_sdp == core.ANSWER_SDP

    assert keys_a.safety_number == keys_b.safety_number == pair.a.safety_number
    assert len(keys_a.safety_number) == 60 and keys_a.safety_number.isdigit()
    assert keys_a.transcript == keys_b.transcript == pair.a.transcript()
    assert keys_a.send_keys == keys_b.recv_keys
    assert keys_a.recv_keys == keys_b.send_keys
    assert set(keys_a.send_keys) == set(Channel)
    all_keys = [*keys_a.send_keys.values(), *keys_a.recv_keys.values()]
    assert len(set(all_keys)) == len(all_keys) == 2 * len(Channel)
    assert all(len(key) == 32 for key in all_keys)

    assert keys_a.peer_identity == bytes(pair.b._identity.verify_key)
    assert keys_b.peer_identity == bytes(pair.a._identity.verify_key)
    assert keys_a.peer_capabilities.label == f"peer {core.SIDE_B}"
    assert keys_a.reconnect_psk == keys_b.reconnect_psk == pair.a.reconnect_psk()
    assert keys_a.reconnect_psk not in all_keys


def test_streams_work_both_ways_on_every_channel(core):
    keys_a, keys_b = core.make_pair().run()
    for channel in Channel:
        for sender_keys, receiver_keys in ((keys_a, keys_b), (keys_b, keys_a)):
            sender = crypto.StreamSender(sender_keys.send_keys[channel])
            receiver = crypto.StreamReceiver(receiver_keys.recv_keys[channel], sender.header)
            for text in (b"hello", b"", b"x" * 70_000):
                assert receiver.pull(sender.push(text)) == text
            assert receiver.pull(sender.push(b"bye", final=True)) == b"bye"
            assert receiver.finished


def test_stream_keyed_for_the_other_direction_does_not_open(core):
    keys_a, _ = core.make_pair().run()
    sender = crypto.StreamSender(keys_a.send_keys[Channel.CONTROL])
    wrong = crypto.StreamReceiver(keys_a.recv_keys[Channel.CONTROL], sender.header)
    with pytest.raises(DecryptError):
        wrong.pull(sender.push(b"hello"))


def test_codes_typed_differently_but_equal_pair(core):
    pair = core.make_pair(core.CODE, "  7 AARDVARK adroitness—absurd ")
    keys_a, keys_b = pair.run()
    assert keys_a.send_keys == keys_b.recv_keys


def test_peer_label_is_sanitised(core):
    a = core.make_pairing(side=core.SIDE_A)
    b = core.make_pairing(
        side=core.SIDE_B, capabilities=Capabilities(label="\x1b]0;pwned\x07Bob\u202e\x1b[2J")
    )
    pair = core.PairingPair(a, b)
    pair.start()
    assert a.peer_capabilities is not None
    assert a.peer_capabilities.label == "Bob"


def test_role_follows_the_smaller_side_id(core):
    a = core.make_pairing(side="zzz")
    b = core.make_pairing(side="aaa")
    pair = core.PairingPair(a, b)
    pair.run()
    assert (a.role, b.role) == ("answerer", "offerer")


# --- wrong code and man in the middle --------------------------------------------------


def test_wrong_code_fails_on_both_sides_and_no_offer_is_made(core):
    a = core.make_pairing(core.CODE, core.SIDE_A)
    b = core.make_pairing(core.OTHER_CODE, core.SIDE_B)
    pake_a, pake_b = a.start()[0], b.start()[0]
    [version_a] = a.receive("pake", core.SIDE_B, pake_b.body)
    [version_b] = b.receive("pake", core.SIDE_A, pake_a.body)

    with pytest.raises(WrongCode, match="wrong"):
        a.receive("version", core.SIDE_B, version_b.body)
    with pytest.raises(WrongCode):
        b.receive("version", core.SIDE_A, version_a.body)

    for side in (a, b):
        assert side.state is PairingState.FAILED
        assert side.role is None and side.peer_identity is None and side.safety_number is None
        with pytest.raises(LocalProtocolError):
            side.seal_sdp(core.OFFER_SDP)
        with pytest.raises(LocalProtocolError):
            side.bind_message()
        with pytest.raises(LocalProtocolError):
            side.receive("version", "cccc", b"x")


def test_wrong_code_through_the_mailbox_never_reaches_an_offer(core):
    pair = core.make_pair(core.CODE, core.OTHER_CODE)
    pair.start(keep_going=True)
    assert set(pair.errors) == {core.SIDE_A, core.SIDE_B}
    assert all(isinstance(error, WrongCode) for error in pair.errors.values())
    assert "offer" not in pair.phases_sent()
    assert not any(p.state in PAIRED_STATES_AFTER_VERSION for p in (pair.a, pair.b))


def test_man_in_the_middle_with_a_guessed_code_cannot_pair(core):
    """Mallory runs the protocol with each side, with her best guess of the code."""
    guess = core.OTHER_CODE
    alice = core.make_pairing(core.CODE, core.SIDE_A)
    bob = core.make_pairing(core.CODE, core.SIDE_B)
    mallory_as_bob = core.make_pairing(guess, core.SIDE_B)
    mallory_as_alice = core.make_pairing(guess, core.SIDE_A)
    left = core.PairingPair(alice, mallory_as_bob)
    right = core.PairingPair(mallory_as_alice, bob)

    for link in (left, right):
        link.start(keep_going=True)
        assert [type(e) for e in link.errors.values()] == [WrongCode, WrongCode]
        # Nobody, Mallory included, ever opened a version: no identities, no SDP.
        assert all(p.peer_identity is None for p in (link.a, link.b))
        assert "offer" not in link.phases_sent()

    # Honest sides are dead for good: a later genuine message is refused.
    for honest in (alice, bob):
        assert honest.state is PairingState.FAILED
        with pytest.raises(LocalProtocolError):
            honest.receive("pake", "cccc", b"S" + bytes(32))


def test_mallory_relaying_pake_cannot_inject_her_own_offer(core):
    """She relays the PAKE honestly but, without the code, must seal the offer herself."""
    mallory_key = os.urandom(32)

    def replace_offer(sender: Pairing, message: Outgoing) -> Outgoing:
        if message.phase == "offer":
            forged = crypto.seal(crypto.phase_key(mallory_key, sender.side, "offer"), b"v=0 evil")
            return Outgoing("offer", forged)
        return message

    pair = core.make_pair(tamper=replace_offer)
    pair.start()
    with pytest.raises(DecryptError):
        pair.exchange_sdps()
    assert pair.b.remote_sdp is None
    assert pair.b.state is PairingState.FAILED


# --- tampered, swapped, replayed, reflected --------------------------------------------


def _flip_last_bit(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1])


@pytest.mark.parametrize("phase", PHASES)
def test_tampered_phase_body_is_refused_and_yields_no_keys(core, phase):
    tampered_senders = []

    def tamper(sender: Pairing, message: Outgoing) -> Outgoing:
        # the first message of this phase, whoever sends it (answer comes from B)
        if message.phase == phase and not tampered_senders:
            tampered_senders.append(sender)
            return Outgoing(phase, _flip_last_bit(message.body))
        return message

    pair = core.make_pair(tamper=tamper)
    # keep_going: a flipped PAKE bit can still be a valid point, and then whichever
    # side reads the other's version first fails; both must get to read it.
    pair.start(keep_going=True)
    if pair.errors:
        assert all(isinstance(e, RemoteProtocolError | WrongCode) for e in pair.errors.values())
    else:
        with pytest.raises((RemoteProtocolError, WrongCode)):
            pair.exchange_sdps()
            pair.bind()
    victim = pair.other(tampered_senders[0])
    assert victim.state is PairingState.FAILED
    assert pair.a.state is not PairingState.PAIRED and pair.b.state is not PairingState.PAIRED
    # the victim never binds, so its peer can never complete either
    with pytest.raises(LocalProtocolError):
        victim.bind_message()
    with pytest.raises(LocalProtocolError):
        victim.receive_bind(bytes(BIND_MESSAGE_SIZE))


def test_version_body_swapped_into_the_offer_phase_is_refused(core):
    pair = core.make_pair()
    pair.start()
    version_from_a = next(m for side, m in pair.log if side == core.SIDE_A and m.phase == "version")
    with pytest.raises(DecryptError):
        pair.b.receive("offer", core.SIDE_A, version_from_a.body)


def test_offer_body_delivered_as_answer_is_refused(core):
    pair = core.make_pair()
    pair.start()
    offer = pair.a.seal_sdp(core.OFFER_SDP)
    # B answers, so an "answer" from A is out of order, whatever its body
    with pytest.raises(RemoteProtocolError, match="unexpected answer"):
        pair.b.receive("answer", core.SIDE_A, offer.body)


@pytest.mark.parametrize("phase", ["pake", "version"])
def test_replayed_phase_is_refused(core, phase):
    pair = core.make_pair()
    pair.start()
    earlier = next(m for side, m in pair.log if side == core.SIDE_A and m.phase == phase)
    with pytest.raises(RemoteProtocolError, match="out of order"):
        pair.b.receive(phase, core.SIDE_A, earlier.body)
    assert pair.b.state is PairingState.FAILED


def test_replayed_offer_is_refused(core):
    pair = core.make_pair()
    pair.start()
    offer = pair.a.seal_sdp(core.OFFER_SDP)
    pair.b.receive("offer", core.SIDE_A, offer.body)
    with pytest.raises(RemoteProtocolError):
        pair.b.receive("offer", core.SIDE_A, offer.body)


def test_reflected_pake_is_refused(core):
    a = core.make_pairing(side=core.SIDE_A)
    [pake] = a.start()
    with pytest.raises(RemoteProtocolError, match="reflected"):
        a.receive("pake", core.SIDE_B, pake.body)


def test_reflected_version_does_not_open(core):
    pair = core.make_pair()
    pair.post(pair.a, pair.a.start())
    pair.post(pair.b, pair.b.start())
    _, pake_a = pair.queue.popleft()
    [version_b] = pair.b.receive("pake", core.SIDE_A, pake_a.body)
    # B's own version presented to B as if it came from A
    with pytest.raises(WrongCode):
        pair.b.receive("version", core.SIDE_A, version_b.body)


def test_messages_from_a_third_side_or_our_own_side_are_refused(core):
    pair = core.make_pair()
    pair.post(pair.a, pair.a.start())
    pair.post(pair.b, pair.b.start())
    _, pake_a = pair.queue.popleft()
    _, pake_b = pair.queue.popleft()
    pair.b.receive("pake", core.SIDE_A, pake_a.body)
    with pytest.raises(RemoteProtocolError, match="third side"):
        pair.b.receive("version", "cccc000003", b"\x00" * 60)
    with pytest.raises(RemoteProtocolError, match="own side"):
        pair.a.receive("pake", core.SIDE_A, pake_b.body)


# --- the bind ----------------------------------------------------------------------------


def _paired_up_to_bind(core):
    pair = core.make_pair()
    pair.start()
    pair.exchange_sdps()
    return pair


def _forged_bind(pairing_key: bytes, signer: nacl.signing.SigningKey, transcript: bytes, side: str):
    data = b"p2pchat/v1 bind" + transcript + side.encode()
    signature = signer.sign(data).signature
    return signature + crypto.mac(crypto.purpose_key(pairing_key, "bind"), data)


def test_bind_from_a_different_identity_is_refused(core):
    pair = _paired_up_to_bind(core)
    # Even knowing K_pake (which only the peer does), another identity's signature fails.
    stranger = nacl.signing.SigningKey.generate()
    forged = _forged_bind(pair.a._pake_key, stranger, pair.a.transcript(), core.SIDE_B)
    with pytest.raises(RemoteProtocolError, match="signature"):
        pair.a.receive_bind(forged)
    assert pair.a.state is PairingState.FAILED
    with pytest.raises(LocalProtocolError):
        pair.a.receive_bind(pair.b.bind_message())


def test_bind_over_a_different_transcript_is_refused(core):
    pair = _paired_up_to_bind(core)
    other_transcript = crypto.sha256(b"a transcript with another answer SDP")
    forged = _forged_bind(pair.a._pake_key, pair.b._identity, other_transcript, core.SIDE_B)
    with pytest.raises(RemoteProtocolError, match="MAC"):
        pair.a.receive_bind(forged)


def test_bind_with_a_stolen_identity_but_no_pake_key_is_refused(core):
    pair = _paired_up_to_bind(core)
    forged = _forged_bind(os.urandom(32), pair.b._identity, pair.a.transcript(), core.SIDE_B)
    with pytest.raises(RemoteProtocolError, match="MAC"):
        pair.a.receive_bind(forged)


def test_own_bind_reflected_is_refused(core):
    pair = _paired_up_to_bind(core)
    with pytest.raises(RemoteProtocolError):
        pair.a.receive_bind(pair.a.bind_message())


def test_bind_from_a_pairing_with_another_sdp_is_refused(core):
    """Two pairings with the same people and code but different SDPs do not cross-bind."""
    first = _paired_up_to_bind(core)
    second = core.make_pair()
    second.start()
    second.exchange_sdps(answer=core.ANSWER_SDP + "a=x\r\n")
    with pytest.raises(RemoteProtocolError):
        first.a.receive_bind(second.b.bind_message())


@pytest.mark.parametrize("data", [b"", bytes(BIND_MESSAGE_SIZE - 1), bytes(BIND_MESSAGE_SIZE + 1)])
def test_bind_of_the_wrong_size_is_refused(core, data):
    pair = _paired_up_to_bind(core)
    with pytest.raises(RemoteProtocolError, match="96 bytes"):
        pair.a.receive_bind(data)


# --- misuse by the caller ----------------------------------------------------------------


def test_calls_out_of_order_are_local_errors(core):
    a = core.make_pairing(side=core.SIDE_A)
    with pytest.raises(LocalProtocolError, match="start"):
        a.receive("pake", core.SIDE_B, b"S" + bytes(32))
    with pytest.raises(LocalProtocolError):
        a.seal_sdp(core.OFFER_SDP)
    with pytest.raises(LocalProtocolError):
        a.bind_message()
    with pytest.raises(LocalProtocolError):
        a.reconnect_psk()
    a.start()
    with pytest.raises(LocalProtocolError, match="once"):
        a.start()


def test_the_answerer_cannot_seal_before_the_offer_arrived(core):
    pair = core.make_pair()
    pair.start()
    with pytest.raises(LocalProtocolError, match="seal_sdp"):
        pair.b.seal_sdp(core.ANSWER_SDP)
    with pytest.raises(LocalProtocolError):
        pair.a.receive_bind(bytes(BIND_MESSAGE_SIZE))


def test_invalid_construction_arguments(core):
    with pytest.raises(P2PChatError):
        core.make_pairing("not a code")
    with pytest.raises(LocalProtocolError):
        core.make_pairing(side="")
    with pytest.raises(LocalProtocolError):
        core.make_pairing(side="x" * 65)


def test_oversized_local_sdp_is_refused(core):
    pair = core.make_pair()
    pair.start()
    with pytest.raises(LocalProtocolError, match="larger"):
        pair.a.seal_sdp("v" * (64 * 1024 + 1))
    with pytest.raises(LocalProtocolError):
        pair.a.seal_sdp("")


# --- a peer that knows the code but sends malformed content ----------------------------


class CodeHolder:
    """A raw peer that runs SPAKE2 with the right code and can seal anything."""

    def __init__(self, code: str, side: str) -> None:
        self.side = side
        self._spake = spake2.SPAKE2_Symmetric(code.encode(), idSymmetric=APPID.encode())
        self.pake = self._spake.start()
        self.key = b""

    def finish(self, peer_pake: bytes) -> None:
        self.key = self._spake.finish(peer_pake)

    def seal(self, phase: str, plaintext: bytes) -> bytes:
        return crypto.seal(crypto.phase_key(self.key, self.side, phase), plaintext)


def _victim_waiting_for_version(core) -> tuple[Pairing, CodeHolder]:
    victim = core.make_pairing(side=core.SIDE_A)
    holder = CodeHolder(core.CODE, core.SIDE_B)
    [pake] = victim.start()
    victim.receive("pake", core.SIDE_B, holder.pake)
    holder.finish(pake.body)
    return victim, holder


def _version(**changes):
    fields = {
        "v": 1,
        "id": bytes(nacl.signing.SigningKey.generate().verify_key),
        "eph": crypto.x25519_public(os.urandom(32)),
        "caps": {"view_once": True, "max_image_bytes": 10, "max_text_chars": 10, "label": "x"},
    }
    fields.update(changes)
    return msgpack.packb({k: v for k, v in fields.items() if v is not None}, use_bin_type=True)


MALFORMED_VERSIONS = {
    "not msgpack": b"\xc1",
    "trailing bytes": _version() + b"\x00",
    "not a map": msgpack.packb([1, 2, 3]),
    "int keys": msgpack.packb({1: 2}),
    "protocol 2": _version(v=2),
    "protocol as bool": _version(v=True),
    "short identity": _version(id=b"\x01" * 31),
    "identity as str": _version(id="a" * 32),
    "missing identity": _version(id=None),
    "long ephemeral": _version(eph=b"\x09" * 33),
    "low-order ephemeral": _version(eph=bytes(32)),
    "caps not a map": _version(caps=[1]),
    "caps missing": _version(caps=None),
    "caps bool as int": _version(
        caps={"view_once": 1, "max_image_bytes": 1, "max_text_chars": 1, "label": ""}
    ),
    "caps negative limit": _version(
        caps={"view_once": True, "max_image_bytes": -1, "max_text_chars": 1, "label": ""}
    ),
    "caps float limit": _version(
        caps={"view_once": True, "max_image_bytes": 1.0, "max_text_chars": 1, "label": ""}
    ),
    "caps huge label": _version(
        caps={"view_once": True, "max_image_bytes": 1, "max_text_chars": 1, "label": "x" * 1500}
    ),
    "extension type": msgpack.packb({"v": msgpack.ExtType(1, b"x")}),
    "deep nesting": b"\x91" * 2000 + b"\x00",
}


@pytest.mark.parametrize("name", MALFORMED_VERSIONS)
def test_malformed_version_from_a_code_holder_is_a_protocol_error(core, name):
    victim, holder = _victim_waiting_for_version(core)
    with pytest.raises(RemoteProtocolError):
        victim.receive("version", core.SIDE_B, holder.seal("version", MALFORMED_VERSIONS[name]))
    assert victim.state is PairingState.FAILED
    assert victim.role is None


def test_wellformed_version_from_a_code_holder_is_accepted_with_unknown_extras(core):
    victim, holder = _victim_waiting_for_version(core)
    body = holder.seal("version", _version(future_field=[1, 2]))
    assert victim.receive("version", core.SIDE_B, body) == []
    assert victim.state is PairingState.MUST_OFFER


@pytest.mark.parametrize("sdp", [b"\xff\xfe not utf-8", b""])
def test_malformed_sdp_from_a_code_holder_is_a_protocol_error(core, sdp):
    victim = core.make_pairing(side=core.SIDE_B)  # B answers
    holder = CodeHolder(core.CODE, core.SIDE_A)
    [pake] = victim.start()
    [_version_from_victim] = victim.receive("pake", core.SIDE_A, holder.pake)
    holder.finish(pake.body)
    victim.receive("version", core.SIDE_A, holder.seal("version", _version()))
    with pytest.raises(RemoteProtocolError):
        victim.receive("offer", core.SIDE_A, holder.seal("offer", sdp))


# --- fuzzing: nothing but P2PChatError escapes ------------------------------------------


def _build_stages(core) -> dict[str, tuple[Pairing, CodeHolder | None]]:
    """Victims frozen at each stage that reads peer input; deep-copied per example."""
    fresh = core.make_pairing(core.CODE, core.SIDE_A, seed=b"fuzz-fresh")
    fresh.start()
    stages: dict[str, tuple[Pairing, CodeHolder | None]] = {"pake": (fresh, None)}
    stages["version"] = _victim_waiting_for_version(core)

    answerer = core.make_pairing(core.CODE, core.SIDE_B, seed=b"fuzz-offer")
    offer_holder = CodeHolder(core.CODE, core.SIDE_A)
    [pake] = answerer.start()
    answerer.receive("pake", core.SIDE_A, offer_holder.pake)
    offer_holder.finish(pake.body)
    answerer.receive("version", core.SIDE_A, offer_holder.seal("version", _version()))
    stages["offer"] = (answerer, offer_holder)
    return stages


@pytest.fixture(scope="module")
def stages(core):
    return _build_stages(core)


@pytest.fixture(scope="module")
def ready_to_bind(core):
    return _paired_up_to_bind(core)


phases = st.one_of(st.sampled_from(PHASES), st.text(max_size=10))
sides = st.one_of(st.sampled_from(["aaaa000001", "bbbb000002"]), st.text(max_size=70))
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=12,
)
version_like = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, True, "1"]),
        "id": st.binary(min_size=31, max_size=33),
        "eph": st.binary(min_size=31, max_size=33),
        "caps": st.dictionaries(
            st.sampled_from(["view_once", "max_image_bytes", "max_text_chars", "label", "z"]),
            msgpack_values,
        ),
    },
)
# What the body is made of: raw bytes, or (for stages past the PAKE) plaintext sealed
# with the key the victim will actually accept, so decoding is reached.
bodies = st.one_of(
    st.tuples(st.just("raw"), st.binary(max_size=200)),
    st.tuples(st.just("sealed"), st.binary(max_size=200)),
    st.tuples(st.just("sealed"), msgpack_values.map(lambda v: msgpack.packb(v))),
    st.tuples(st.just("sealed"), version_like.map(lambda v: msgpack.packb(v))),
)
peer_messages = st.tuples(
    st.sampled_from(["pake", "version", "offer"]),
    st.lists(st.tuples(phases, sides, bodies), min_size=1, max_size=3),
)


def _feed(stages, stage: str, messages) -> None:
    template, holder = stages[stage]
    victim = copy.deepcopy(template)
    for phase, side, (kind, payload) in messages:
        body = holder.seal(phase, payload) if kind == "sealed" and holder else payload
        try:
            victim.receive(phase, side, body)
        except P2PChatError:
            assert victim.state is PairingState.FAILED
            return


FUZZ_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=300, **FUZZ_SETTINGS)
@given(staged=peer_messages)
def test_fuzz_receive_raises_only_p2pchat_errors(stages, staged):
    _feed(stages, *staged)


@pytest.mark.slow
@settings(max_examples=10_000, **FUZZ_SETTINGS)
@given(staged=peer_messages)
def test_fuzz_receive_raises_only_p2pchat_errors_long(stages, staged):
    _feed(stages, *staged)


@settings(max_examples=100, **FUZZ_SETTINGS)
@given(data=st.binary(max_size=200))
def test_fuzz_bind_raises_only_protocol_errors(ready_to_bind, data):
    pair = copy.deepcopy(ready_to_bind)
    with pytest.raises(RemoteProtocolError):
        pair.a.receive_bind(data)
