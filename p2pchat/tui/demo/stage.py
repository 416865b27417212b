"""The demo's stage: an embedded mailbox and two real ChatServices, Alice and Bob.

Owns the network side of the demo and nothing visual: it starts an
embedded mailbox (``service.LocalMailbox``) on 127.0.0.1, pairs Alice and Bob over real
WebRTC on loopback with real encryption, records every service event per side
(so a lesson can wait for "Bob received message X"), writes each side's evidence
export from that side's service conversation (``ChatService.conversation``, the
one record of its messages), and runs the wrong-code attempt with fresh
services. The app and the ``--check`` mode drive it through the same lessons.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import nacl.signing

from p2pchat.core import codes
from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.service import ChatService, IceSettings, LocalMailbox, ServiceConfig
from p2pchat.service import events as ev

Side = Literal["alice", "bob"]
SIDES: Final[tuple[Side, Side]] = ("alice", "bob")
PAIRING_TIMEOUT: Final = 30.0
EVENT_TIMEOUT: Final = 30.0
CLOSE_TIMEOUT: Final = 3.0
EXPORT_MODE: Final = 0o600
BLOCKED_PETNAME: Final = "bob"  # the name in Alice's demo contact book (never shown)

EventListener = Callable[[Side, ev.ServiceEvent], None]


def other(side: Side) -> Side:
    return "bob" if side == "alice" else "alice"


def photo_line(width: int, height: int) -> str:
    """How a photo appears in the demo's exported transcript, in the lesson's language."""
    return t("demo.export.photo", width=width, height=height)


@dataclass(frozen=True)
class WrongCodeResult:
    """How the inviter and the intruder each ended (an error text, or None if they paired)."""

    inviter_error: str | None
    intruder_error: str | None
    inviter_error_type: str
    intruder_error_type: str

    @property
    def both_refused(self) -> bool:
        return self.inviter_error is not None and self.intruder_error is not None


@dataclass(frozen=True)
class BlockResult:
    """What happened when Bob tried again after Alice blocked him."""

    message_refused: bool  # his next message in the old conversation could not be sent
    refusal_type: str  # how Alice's app ended his new attempt ("ContactBlocked")
    words_arrived: bool  # whether what he sent after meeting again ever reached Alice

    @property
    def refused(self) -> bool:
        return (
            self.message_refused
            and self.refusal_type == "ContactBlocked"
            and not (self.words_arrived)
        )


class DemoStage:
    """Alice and Bob, paired through an embedded mailbox on loopback."""

    def __init__(self, names: dict[Side, str], *, listener: EventListener | None = None) -> None:
        self.names = names
        self.listener = listener
        self.identities: dict[Side, nacl.signing.SigningKey] = {
            side: nacl.signing.SigningKey.generate() for side in SIDES
        }
        self.services: dict[Side, ChatService] = {}
        self.history: dict[Side, list[ev.ServiceEvent]] = {side: [] for side in SIDES}
        self.paired: dict[Side, ev.Paired] = {}
        self.mailbox_url = ""
        self._server: LocalMailbox | None = None
        self._changed: dict[Side, asyncio.Event] = {side: asyncio.Event() for side in SIDES}
        self._pumps: list[asyncio.Task[None]] = []
        self._export_dir: Path | None = None

    def config(self, label: str, identity: nacl.signing.SigningKey | None) -> ServiceConfig:
        # No STUN, no TURN, 127.0.0.1 only: the demo never talks to another host.
        return ServiceConfig(
            mailbox_url=self.mailbox_url,
            ice=IceSettings(),
            loopback=True,
            identity=identity,
            label=label,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self, timeout: float = PAIRING_TIMEOUT) -> None:
        """Start the mailbox, make Alice's invite, let Bob join, wait until both are paired."""
        self._server = LocalMailbox()
        self.mailbox_url = await self._server.start()
        for side in SIDES:
            service = ChatService(self.config(self.names[side], self.identities[side]))
            self.services[side] = service
            self._pumps.append(asyncio.ensure_future(self._pump(side, service)))
        code = await self.services["alice"].invite()
        await self.services["bob"].join(code)
        del code  # an invite code is a secret until used: never kept or shown
        results = await asyncio.gather(
            *(self.services[side].wait_paired(timeout) for side in SIDES)
        )
        self.paired = dict(zip(SIDES, results, strict=True))

    async def close(self) -> None:
        """Close both services and the mailbox; delete the exported files. Idempotent."""
        for service in self.services.values():
            with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        for pump in self._pumps:
            pump.cancel()
        self._pumps.clear()
        if self._server is not None:
            server, self._server = self._server, None
            with contextlib.suppress(OSError):
                await server.stop()
        if self._export_dir is not None:
            shutil.rmtree(self._export_dir, ignore_errors=True)
            self._export_dir = None

    async def _pump(self, side: Side, service: ChatService) -> None:
        async for event in service.events():
            self.history[side].append(event)
            self._changed[side].set()
            if self.listener is not None:
                self.listener(side, event)

    # ------------------------------------------------------------------ actions
    async def send_text(self, side: Side, text: str) -> str:
        return await self.services[side].send_text(text)

    async def send_image(
        self, side: Side, prepared: object, *, view_once: bool = False, view_seconds: float = 10.0
    ) -> str:
        return await self.services[side].send_image(
            prepared,  # type: ignore[arg-type]
            view_once=view_once,
            view_seconds=view_seconds,
        )

    async def wait_for(
        self,
        side: Side,
        predicate: Callable[[ev.ServiceEvent], bool],
        timeout: float = EVENT_TIMEOUT,
    ) -> ev.ServiceEvent:
        """The first event of ``side`` (past or future) for which ``predicate`` holds."""

        async def scan() -> ev.ServiceEvent:
            seen = 0
            while True:
                events = self.history[side]
                for event in events[seen:]:
                    if predicate(event):
                        return event
                seen = len(events)
                self._changed[side].clear()
                await self._changed[side].wait()

        return await asyncio.wait_for(scan(), timeout)

    def export_transcript(self, side: Side) -> Path:
        """Write ``side``'s conversation as plain text (view-once photos left out), mode 0600."""
        path = self._folder() / f"conversation-{side}.txt"
        lines = []
        for message in self.services[side].conversation.messages():
            if not message.exportable:
                continue
            stamp = datetime.fromtimestamp(message.time, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            who = self.names[side] if message.direction == "out" else self.names[other(side)]
            text = (
                message.text
                if message.kind == "text"
                else photo_line(message.width, message.height)
            )
            body = safe_label(text, 16_000, multiline=True)
            lines.append(f"{stamp} {safe_label(who, 40)}: {body}")
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, EXPORT_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        return path

    def photos_kept(self, side: Side) -> int:
        """The photos in ``side``'s conversation that an export may hold (never view-once)."""
        return sum(
            1
            for message in self.services[side].conversation.messages()
            if message.kind == "image" and message.exportable
        )

    async def wrong_code_attempt(self, timeout: float = PAIRING_TIMEOUT) -> WrongCodeResult:
        """A fresh invite from Alice's identity; a third person joins it with a wrong code.

        The nameplate is right (it is public in the mailbox), the words are not:
        the PAKE keys differ, the sealed ``version`` does not open, and both sides
        must refuse. The right code is never shown or logged.
        """
        inviter = ChatService(self.config(self.names["alice"], self.identities["alice"]))
        intruder = ChatService(self.config("intruder", None))
        try:
            real = codes.parse(await inviter.invite())
            guess = codes.InviteCode(real.nameplate, _different_words(real.words))
            del real
            await intruder.join(str(guess))
            outcomes = await asyncio.gather(
                inviter.wait_paired(timeout),
                intruder.wait_paired(timeout),
                return_exceptions=True,
            )
        finally:
            for service in (inviter, intruder):
                with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                    await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        inviter_outcome, intruder_outcome = outcomes
        return WrongCodeResult(
            _error_text(inviter_outcome),
            _error_text(intruder_outcome),
            type(inviter_outcome).__name__,
            type(intruder_outcome).__name__,
        )

    async def block_and_retry(self, words: str, timeout: float = PAIRING_TIMEOUT) -> BlockResult:
        """Alice blocks Bob for real, then Bob tries to reach her again, twice.

        Alice's contact book (a file in the demo's folder) pins Bob's key and marks
        him blocked, and Alice leaves the conversation, as the app's block does.
        Bob's next message has nowhere to go. Then Bob, with the same identity,
        meets her with a fresh code: Alice's ``ContactGuard`` refuses him before
        anything he sends is read, and ``words`` (sent by Bob if he got that far)
        never reaches her.
        """
        from p2pchat.service.contacts import Contacts

        alice = self.services["alice"]
        book = Contacts.at(self._folder() / "alice-contacts.json")
        book.pin(
            BLOCKED_PETNAME,
            bytes(self.identities["bob"].verify_key),
            alice.safety_number or "",
            alice.reconnect_psk or bytes(32),
        )
        book.block(BLOCKED_PETNAME)
        with contextlib.suppress(P2PChatError, TimeoutError, OSError):
            await asyncio.wait_for(alice.close(), CLOSE_TIMEOUT)
        await self.wait_for("bob", lambda e: isinstance(e, ev.PeerLeft | ev.Closed | ev.Failed))
        try:
            await self.services["bob"].send_text(words)
            message_refused = False
        except P2PChatError:
            message_refused = True
        guarded = replace(
            self.config(self.names["alice"], self.identities["alice"]),
            peer_check=book.guard(),
        )
        inviter = ChatService(guarded)
        again = ChatService(self.config(self.names["bob"], self.identities["bob"]))
        texts: list[str] = []
        try:
            await again.join(await inviter.invite())
            outcomes = await asyncio.gather(
                inviter.wait_paired(timeout), again.wait_paired(timeout), return_exceptions=True
            )
            if not isinstance(outcomes[1], BaseException):
                with contextlib.suppress(P2PChatError):
                    await again.send_text(words)
            texts = await _texts_within(inviter, CLOSE_TIMEOUT)
        finally:
            for service in (inviter, again):
                with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                    await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        return BlockResult(
            message_refused=message_refused,
            refusal_type=type(outcomes[0]).__name__,
            words_arrived=words in texts,
        )

    def _folder(self) -> Path:
        if self._export_dir is None:
            self._export_dir = Path(tempfile.mkdtemp(prefix="p2pchat-demo-"))
        return self._export_dir


async def _texts_within(service: ChatService, seconds: float) -> list[str]:
    """Every text ``service`` reports within ``seconds`` (or until its events end)."""
    texts: list[str] = []

    async def collect() -> None:
        async for event in service.events():
            if isinstance(event, ev.TextReceived):
                texts.append(event.text)
            elif isinstance(event, ev.Failed):
                return  # refused: nothing more will come

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(collect(), seconds)
    return texts


def _error_text(outcome: object) -> str | None:
    if isinstance(outcome, BaseException):
        return str(outcome) or type(outcome).__name__
    return None


def _different_words(words: tuple[str, str, str]) -> tuple[str, str, str]:
    """Three words of a fresh, well-formed code, each different from the real one.

    Random each time: a code that failed is refused when typed again in the same
    process, so a repeated lesson (or the demo run twice) must not guess the same one.
    """
    while True:
        guess = codes.generate("1").words
        if all(a.lower() != b.lower() for a, b in zip(guess, words, strict=True)):
            return guess[0], guess[1], guess[2]
