"""Test helpers for the sans-I/O session: matched keys, a fake clock, an in-memory wire.

In the spirit of h11's test helpers: two real ``Session`` objects joined by a
list of messages, plus a ``RawPeer`` that holds the real stream keys of one side
and can encrypt hand-built (possibly hostile) frames for the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import msgpack

from p2pchat.core import framing as fr
from p2pchat.core.crypto import StreamSender
from p2pchat.core.keys import Capabilities, Channel, Limits, SessionKeys
from p2pchat.core.session import Session, SessionEvent

Message = tuple[Channel, bytes]


def make_key_pair(
    caps_a: Capabilities | None = None, caps_b: Capabilities | None = None
) -> tuple[SessionKeys, SessionKeys]:
    """Keys for A and B where A's send keys are B's receive keys and vice versa.

    ``caps_a`` is what A announced (so it ends up as B's peer_capabilities).
    """
    a_to_b = {channel: os.urandom(32) for channel in Channel}
    b_to_a = {channel: os.urandom(32) for channel in Channel}
    transcript = os.urandom(32)
    keys_a = SessionKeys(
        role="offerer",
        send_keys=a_to_b,
        recv_keys=b_to_a,
        transcript=transcript,
        peer_capabilities=caps_b or Capabilities(),
    )
    keys_b = SessionKeys(
        role="answerer",
        send_keys=dict(b_to_a),
        recv_keys=dict(a_to_b),
        transcript=transcript,
        peer_capabilities=caps_a or Capabilities(),
    )
    return keys_a, keys_b


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Pair:
    a: Session
    b: Session
    keys_a: SessionKeys
    keys_b: SessionKeys
    clock: FakeClock
    log_a_to_b: list[Message] = field(default_factory=list)
    log_b_to_a: list[Message] = field(default_factory=list)


def make_pair(
    limits_a: Limits | None = None,
    limits_b: Limits | None = None,
    caps_a: Capabilities | None = None,
    caps_b: Capabilities | None = None,
) -> Pair:
    keys_a, keys_b = make_key_pair(caps_a, caps_b)
    clock = FakeClock()
    a = Session(keys_a, limits=limits_a or Limits(), clock=clock)
    b = Session(keys_b, limits=limits_b or Limits(), clock=clock)
    return Pair(a, b, keys_a, keys_b, clock)


def drain(session: Session, limit: int | None = None) -> list[Message]:
    """Pull up to ``limit`` outgoing messages (all of them when None)."""
    out: list[Message] = []
    while limit is None or len(out) < limit:
        message = session.next_frame()
        if message is None:
            break
        out.append(message)
    return out


def deliver(messages: list[Message], session: Session) -> None:
    for channel, data in messages:
        session.receive_data(channel, data)


def converse(pair: Pair, tamper: Callable[[list[Message]], list[Message]] | None = None) -> None:
    """Shuttle messages both ways until both sides are quiet."""
    while True:
        a_out = drain(pair.a)
        b_out = drain(pair.b)
        if not a_out and not b_out:
            return
        pair.log_a_to_b += a_out
        pair.log_b_to_a += b_out
        deliver(tamper(a_out) if tamper else a_out, pair.b)
        deliver(b_out, pair.a)


def events_of(session: Session, kind: type[SessionEvent]) -> list[SessionEvent]:
    return [event for event in session.events() if isinstance(event, kind)]


class RawPeer:
    """Holds one side's real send keys; encrypts whatever frames a test builds."""

    def __init__(self, keys: SessionKeys) -> None:
        self.senders = {channel: StreamSender(keys.send_keys[channel]) for channel in Channel}

    def header(self, channel: Channel) -> Message:
        return channel, self.senders[channel].header

    def raw(self, channel: Channel, plaintext: bytes, final: bool = False) -> Message:
        return channel, self.senders[channel].push(plaintext, final=final)

    def frame(self, channel: Channel, frame: fr.Frame, final: bool = False) -> Message:
        return self.raw(channel, fr.encode_frame(frame), final)

    def body(self, channel: Channel, body: object, final: bool = False) -> Message:
        """Any msgpack value, bypassing the frame encoder's checks."""
        return self.raw(channel, msgpack.packb(body, use_bin_type=True), final)

    def opening(self) -> list[Message]:
        """Stream headers and hello on both channels, as a real session starts."""
        out: list[Message] = []
        for channel in Channel:
            out.append(self.header(channel))
            out.append(self.frame(channel, fr.Hello()))
        return out


def opened_victim(limits: Limits | None = None) -> tuple[RawPeer, Session]:
    """A session B plus a raw A that has already sent its headers and hellos."""
    keys_a, keys_b = make_key_pair()
    victim = Session(keys_b, limits=limits or Limits(), clock=FakeClock())
    peer = RawPeer(keys_a)
    deliver(peer.opening(), victim)
    return peer, victim
