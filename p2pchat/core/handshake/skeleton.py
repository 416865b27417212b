"""The skeleton all four handshakes hang on: one state table, the transcript and the bind.

The mailbox pairing, the mailbox reconnect, the copy-paste first contact and the
copy-paste meeting with a pinned contact reach a shared key in four ways; what
happens after that is one procedure, and it lives here once:

- the state: each variant writes its order down as one ``Table`` (h11's
  ``_state.py`` idea); the skeleton needs only the states where the transcript is
  complete (``bind_due``, ``bound``) and the terminal ``failed``;
- the peer: ``_met`` takes the peer's identity, fresh ephemeral and capabilities,
  and derives the X25519 secret and the safety number;
- the transcript: available exactly when both SDPs are known;
- the bind: ``bind_message`` / ``receive_bind`` over the transcript, accepted
  once, and the session keys it hands out;
- the failure: the first one is final, secrets are dropped, and every later call
  is a ``LocalProtocolError``.

Each variant supplies only what is its own (magic-wormhole's small machines
wired through declared interfaces): its ``Table``, its ``Wording``, its
transcript hash (``_transcript_hash``), its bind label and keys (``_bind_keys``),
and the reconnect key the session keeps (``_next_psks``).
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import nacl.signing

from p2pchat.core import crypto
from p2pchat.core.errors import LocalProtocolError, P2PChatError, RemoteProtocolError
from p2pchat.core.handshake.steps import (
    bind_message,
    new_ephemeral,
    session_keys,
    validate_side,
    verify_bind,
)
from p2pchat.core.keys import Capabilities, Role, SessionKeys

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True)
class Table(Generic[S, E]):
    """A variant's whole order: its transitions, and the states the skeleton names."""

    transitions: Mapping[S, Mapping[E, S]]
    start: S
    bind_due: S  # both SDPs known: the transcript is complete, the peer's bind awaited
    bound: S  # the peer's bind verified, session keys handed out
    failed: S  # terminal: nothing more is accepted or sent
    bind_verified: E

    def __post_init__(self) -> None:
        states = {self.start, self.bind_due, self.bound, self.failed}
        if not states <= self.transitions.keys():
            raise LocalProtocolError("a handshake table lacks a row for a named state")
        if self.transitions[self.bind_due].get(self.bind_verified) is not self.bound:
            raise LocalProtocolError("a handshake table must bind from bind_due to bound")
        if self.transitions[self.bound] or self.transitions[self.failed]:
            raise LocalProtocolError("bound and failed are final in every handshake")


@dataclass(frozen=True)
class Wording:
    """How one variant words its errors (the texts people and tests already know)."""

    peer: str  # "the peer" / "the contact": whose bind did not verify
    attempt: str  # "pairing" / "session": what the bind MAC does not match
    failed: str  # any call after the first failure
    incomplete: str  # transcript() before both SDPs are known
    bind_not_due: str  # receive_bind() before both SDPs or a second time; may name {state}


@dataclass(frozen=True)
class BindKeys:
    """What a variant's key exchange gives the bind: its label, MAC key and stream key."""

    label: bytes
    mac_key: bytes
    stream_ikm: bytes


class Handshake(Generic[S, E]):
    """One side of one handshake of any variant. Single use: the first failure is final.

    Subclasses call ``__init__`` after checking their own arguments and before
    drawing any other randomness (the ephemeral key is drawn here, first).
    """

    WORDING: ClassVar[Wording]

    def __init__(
        self,
        table: Table[S, E],
        *,
        side: str,
        identity: nacl.signing.SigningKey,
        appid: str,
        random: crypto.RandomSource,
        peer_side: str | None = None,
        role: Role | None = None,
    ) -> None:
        if not appid:
            raise LocalProtocolError("appid must not be empty")
        self._table = table
        self._state = table.start
        self.side = side
        self._peer_side = peer_side
        self._role = role
        self._identity = identity
        self.appid = appid
        self._random = random
        self._ephemeral_private = new_ephemeral(random)
        self._ephemeral_public = crypto.x25519_public(self._ephemeral_private)
        self._shared_secret = b""
        self._peer_identity: bytes | None = None
        self._peer_capabilities: Capabilities | None = None
        self._safety_number: str | None = None
        self.remote_sdp: str | None = None

    # --- what each variant supplies ---------------------------------------------------

    def _transcript_hash(self) -> bytes:
        """The variant's canonical transcript hash; called only once it is complete."""
        raise NotImplementedError

    def _bind_keys(self) -> BindKeys:
        raise NotImplementedError

    def _next_psks(self, transcript: bytes) -> tuple[bytes, bytes]:
        """``(reconnect_psk, previous_psk)`` for the session keys of a verified bind."""
        raise NotImplementedError

    def _forget(self) -> None:
        """Drop the variant's own secrets after a failure (the skeleton drops its own)."""

    # --- state ------------------------------------------------------------------------

    @property
    def state(self) -> S:
        return self._state

    def _allows(self, event: E) -> bool:
        return event in self._table.transitions[self._state]

    def _transition(self, event: E) -> None:
        self._state = self._table.transitions[self._state][event]

    def _fail(self) -> None:
        self._state = self._table.failed
        self._shared_secret = b""
        self._forget()

    def _require_usable(self) -> None:
        if self._state is self._table.failed:
            raise LocalProtocolError(self.WORDING.failed)

    @contextmanager
    def _failure_is_final(self) -> Iterator[None]:
        """Around every step that reads the peer's bytes: any error ends the attempt."""
        try:
            yield
        except P2PChatError:
            self._fail()
            raise

    def _check_mailbox_message(
        self, phase: object, side: object, body: object, *, phases: Container[str], names: str
    ) -> tuple[str, str, bytes]:
        """The envelope of a mailbox message, checked alike by both mailbox variants.

        A known phase, a well-formed side that is neither ours nor a third one, and
        bytes; ``names`` is "unknown NAMES phase" and "NAMES side id" in the errors.
        Returns the phase, the peer's side and the body.
        """
        if not isinstance(phase, str) or phase not in phases:
            raise RemoteProtocolError(f"unknown {names} phase")
        peer_side = validate_side(side, RemoteProtocolError, f"{names} side id")
        if peer_side == self.side:
            raise RemoteProtocolError("a message claims to come from our own side")
        if self._peer_side is not None and peer_side != self._peer_side:
            raise RemoteProtocolError("a third side spoke in the mailbox")
        if not isinstance(body, bytes):
            raise RemoteProtocolError(f"the {phase} body must be bytes")
        return phase, peer_side, body

    # --- the peer ---------------------------------------------------------------------

    def _met(self, identity: bytes, ephemeral: bytes, capabilities: Capabilities) -> None:
        """The peer's verified keys: derive the shared secret and the safety number."""
        self._shared_secret = crypto.x25519(self._ephemeral_private, ephemeral)
        self._peer_identity = identity
        self._peer_capabilities = capabilities
        self._safety_number = crypto.safety_number(bytes(self._identity.verify_key), identity)

    @property
    def role(self) -> Role | None:
        return self._role

    @property
    def peer_identity(self) -> bytes | None:
        return self._peer_identity

    @property
    def peer_capabilities(self) -> Capabilities | None:
        return self._peer_capabilities

    @property
    def safety_number(self) -> str | None:
        return self._safety_number

    # --- transcript and bind (over the data channel) ----------------------------------

    def transcript(self) -> bytes:
        """The canonical transcript hash; available once both SDPs are known."""
        if self._state not in (self._table.bind_due, self._table.bound):
            raise LocalProtocolError(self.WORDING.incomplete)
        return self._transcript_hash()

    def bind_message(self) -> bytes:
        """Signature (64) || MAC (32) over label || transcript || our side."""
        self._require_usable()
        transcript = self.transcript()
        keys = self._bind_keys()
        return bind_message(self._identity, keys.mac_key, keys.label, transcript, self.side)

    def receive_bind(self, data: bytes) -> SessionKeys:
        """Verify the peer's bind message and hand out the session keys (once)."""
        self._require_usable()
        if self._state is not self._table.bind_due:
            raise LocalProtocolError(self.WORDING.bind_not_due.format(state=self._state.value))
        with self._failure_is_final():
            keys = self._verify_bind(data)
        self._transition(self._table.bind_verified)
        return keys

    def _verify_bind(self, data: object) -> SessionKeys:
        assert self._peer_side is not None and self._role is not None
        assert self._peer_identity is not None and self._peer_capabilities is not None
        assert self._safety_number is not None
        transcript = self.transcript()
        keys = self._bind_keys()
        verify_bind(
            data,
            peer_identity=self._peer_identity,
            mac_key=keys.mac_key,
            label=keys.label,
            transcript=transcript,
            peer_side=self._peer_side,
            peer=self.WORDING.peer,
            attempt=self.WORDING.attempt,
        )
        reconnect_psk, previous_psk = self._next_psks(transcript)
        return session_keys(
            role=self._role,
            shared_secret=self._shared_secret,
            stream_ikm=keys.stream_ikm,
            transcript=transcript,
            safety_number=self._safety_number,
            peer_identity=self._peer_identity,
            peer_capabilities=self._peer_capabilities,
            reconnect_psk=reconnect_psk,
            previous_psk=previous_psk,
        )

    def _transit_key(self, secret: bytes) -> bytes:
        """The transit relay token's key, bound to this transcript (no two sessions share one)."""
        self._require_usable()
        return crypto.hkdf_sha256(secret, b"transit:" + self.transcript())
