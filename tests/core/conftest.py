"""Shared helpers for the core tests: deterministic randomness and a wired pair of Pairings.

``PairingPair`` follows h11's ``ConnectionPair`` idea: two real ``Pairing`` objects
joined by an in-memory mailbox that delivers each side's messages, in order, to
the other side. A ``tamper`` hook lets attack tests play the mailbox.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import deque
from collections.abc import Callable

import nacl.signing
import pytest

from p2pchat.core.errors import P2PChatError
from p2pchat.core.handshake import Outgoing, Pairing
from p2pchat.core.keys import Capabilities, SessionKeys

CODE = "7-aardvark-adroitness-absurd"
OTHER_CODE = "7-aardvark-adroitness-acme"
SIDE_A = "aaaa000001"  # sorts first: A offers
SIDE_B = "bbbb000002"
OFFER_SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=offer\r\n"
ANSWER_SDP = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=answer\r\n"

Tamper = Callable[[Pairing, Outgoing], Outgoing | None]


def deterministic_random(seed: bytes) -> Callable[[int], bytes]:
    """A reproducible byte stream (SHAKE-256 in counter mode) for known-answer tests."""
    counter = itertools.count()

    def random(size: int) -> bytes:
        return hashlib.shake_256(seed + next(counter).to_bytes(8, "big")).digest(size)

    return random


class PairingPair:
    """Two Pairings and the mailbox between them; ``log`` keeps every delivered message."""

    def __init__(self, a: Pairing, b: Pairing, tamper: Tamper | None = None) -> None:
        self.a, self.b = a, b
        self.tamper = tamper
        self.queue: deque[tuple[Pairing, Outgoing]] = deque()
        self.log: list[tuple[str, Outgoing]] = []
        self.errors: dict[str, Exception] = {}  # receiver side -> its failure (keep_going)

    def other(self, sender: Pairing) -> Pairing:
        return self.b if sender is self.a else self.a

    def post(self, sender: Pairing, messages: list[Outgoing]) -> None:
        for message in messages:
            self.queue.append((sender, message))

    def pump(self, *, keep_going: bool = False) -> None:
        """Deliver until nothing is left in flight (replies are queued too).

        With ``keep_going`` a receiver's P2PChatError is recorded in ``errors`` and
        delivery goes on, so both sides get to fail on their own.
        """
        while self.queue:
            sender, message = self.queue.popleft()
            if self.tamper is not None:
                tampered = self.tamper(sender, message)
                if tampered is None:
                    continue
                message = tampered
            self.log.append((sender.side, message))
            receiver = self.other(sender)
            try:
                replies = receiver.receive(message.phase, sender.side, message.body)
            except P2PChatError as exc:
                if not keep_going:
                    raise
                self.errors.setdefault(receiver.side, exc)
                continue
            self.post(receiver, replies)

    def start(self, *, keep_going: bool = False) -> None:
        self.post(self.a, self.a.start())
        self.post(self.b, self.b.start())
        self.pump(keep_going=keep_going)

    @property
    def offerer(self) -> Pairing:
        return self.a if self.a.role == "offerer" else self.b

    @property
    def answerer(self) -> Pairing:
        return self.other(self.offerer)

    def exchange_sdps(self, offer: str = OFFER_SDP, answer: str = ANSWER_SDP) -> None:
        offerer, answerer = self.offerer, self.answerer
        self.post(offerer, [offerer.seal_sdp(offer)])
        self.pump()
        self.post(answerer, [answerer.seal_sdp(answer)])
        self.pump()

    def bind(self) -> tuple[SessionKeys, SessionKeys]:
        bind_a, bind_b = self.a.bind_message(), self.b.bind_message()
        return self.a.receive_bind(bind_b), self.b.receive_bind(bind_a)

    def run(self) -> tuple[SessionKeys, SessionKeys]:
        self.start()
        self.exchange_sdps()
        return self.bind()

    def phases_sent(self) -> list[str]:
        return [message.phase for _, message in self.log]


def identity_from(seed: bytes) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(hashlib.sha256(seed).digest())


def make_pairing(
    code: str = CODE,
    side: str = SIDE_A,
    *,
    identity: nacl.signing.SigningKey | None = None,
    capabilities: Capabilities | None = None,
    seed: bytes | None = None,
) -> Pairing:
    return Pairing(
        code,
        side,
        identity or identity_from(side.encode()),
        capabilities or Capabilities(label=f"peer {side}"),
        random=deterministic_random(seed) if seed is not None else os.urandom,
    )


def make_pair(
    code_a: str = CODE,
    code_b: str = CODE,
    *,
    seed: bytes | None = None,
    tamper: Tamper | None = None,
) -> PairingPair:
    """A pair whose randomness is fixed by ``seed`` (or fresh when None)."""
    seed_a = None if seed is None else seed + b"/a"
    seed_b = None if seed is None else seed + b"/b"
    return PairingPair(
        make_pairing(code_a, SIDE_A, seed=seed_a),
        make_pairing(code_b, SIDE_B, seed=seed_b),
        tamper=tamper,
    )


class Helpers:
    """Handed to tests by the ``core`` fixture (tests do not import conftest)."""

    CODE = CODE
    OTHER_CODE = OTHER_CODE
    SIDE_A = SIDE_A
    SIDE_B = SIDE_B
    OFFER_SDP = OFFER_SDP
    ANSWER_SDP = ANSWER_SDP
    PairingPair = PairingPair
    deterministic_random = staticmethod(deterministic_random)
    identity_from = staticmethod(identity_from)
    make_pairing = staticmethod(make_pairing)
    make_pair = staticmethod(make_pair)


@pytest.fixture(scope="session")
def core() -> type[Helpers]:
    return Helpers
