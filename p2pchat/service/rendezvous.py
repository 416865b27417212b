"""The pairing steps between the mailbox and a verified data channel.

``exchange_descriptions`` runs a code or reconnect handshake over the mailbox
until both SDPs crossed and the link is set up; ``exchange_bind`` opens the
channels and verifies the peer's bind; ``announce_failure`` tells the other side
(and the mailbox) that a pairing stopped. They keep no state: ChatService owns
the link, the mailbox and what to emit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Literal, Protocol

from p2pchat.core.errors import (
    LabelRefused,
    LocalProtocolError,
    P2PChatError,
    PeerRefusedLabel,
    RemoteProtocolError,
    WrongCode,
)
from p2pchat.core.handshake import IdentityMismatch, Pairing, Reconnect
from p2pchat.core.keys import MAX_LABEL_CHARS, Channel, SessionKeys
from p2pchat.core.timeline import mark
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.mailbox_protocol import MailboxMessage
from p2pchat.service.config import CONNECT_TIMEOUT

if TYPE_CHECKING:  # aiortc is imported when a link is opened (net/rtc_preload)
    from p2pchat.net.rtc import RtcLink


class BindingHandshake(Protocol):
    """What the bind needs of any handshake: code, reconnect or copy-paste."""

    def bind_message(self) -> bytes: ...

    def receive_bind(self, data: bytes) -> SessionKeys: ...


MAX_EARLY_FRAMES: Final = 64
ERROR_PHASE: Final = "error"  # tells the other side to stop waiting; carries no secret
# What the error phase says. Unauthenticated, so it only ever picks one of our own
# sentences; an unknown body (an older peer's "pairing failed") reads as the first.
_STOPPED_BECAUSE: Final = {
    b"pairing failed": (
        "The other side reported that pairing failed: a wrong code, or someone "
        "tampered with the exchange. Make a new invite and try again."
    ),
    b"label refused": (
        "The other side refused your display name: it is too long. Choose a shorter "
        f"one (at most {MAX_LABEL_CHARS} characters) and pair again."
    ),
    b"stopped": (
        "The other side stopped pairing because of a problem on their side; "
        "they were shown what it was."
    ),
    b"key changed": (
        "Your contact's p2pchat refused this meeting: the identity key it has pinned for "
        "you is not the one you have now. If you made a new identity (p2pchat identity "
        "--new), they were warned that your key changed: meet once more with a new code, "
        "then compare the safety number, so they can accept your new key."
    ),
}
# A reconnect uses no code: its failures never read "a wrong code".
_STOPPED_MEETING: Final = (
    "Your contact's p2pchat stopped this meeting: the reconnect exchange did not check "
    "out (one of you changed identity keys, or someone else holds the reconnect "
    "secret). Meet once more with a new code and compare the safety number."
)


class PeerStopped(RemoteProtocolError):
    """The other side stopped the pairing or meeting; ``reason`` names which of our sentences.

    The message is the English sentence (scripts and the CLI's logs read it); front
    ends in another language word ``said`` themselves (``errors.peer_stopped.*``).
    """

    reason = "peer_stopped"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.said = reason
        self.because(f"peer_stopped_{reason}")


class KeyChangeReported(PeerStopped):
    """The contact's p2pchat refused a reconnect: the key we presented is not the pinned one."""

    reason = "key_change_reported"

    def __init__(self, message: str) -> None:
        super().__init__(message, "key_changed")


async def exchange_descriptions(
    mailbox: MailboxClient, pairing: Pairing | Reconnect, open_link: Callable[[], RtcLink]
) -> RtcLink:
    """Run the handshake over the mailbox until both SDPs crossed; close the mailbox.

    ``open_link`` is called once, as soon as the handshake proved the code right.
    """
    await until_verified(mailbox, pairing)
    return await cross_descriptions(mailbox, pairing, open_link)


async def until_verified(
    mailbox: MailboxClient,
    pairing: Pairing | Reconnect,
    before_pake: Callable[[object], Awaitable[None]] | None = None,
) -> None:
    """Start the handshake and run it until the peer's version proved the code right.

    ``before_pake`` is awaited with the sender's side once, before the first pake
    message is handled (our version is sealed in reply to it).
    """
    for out in pairing.start():
        await mailbox.add(out.phase, out.body)
    while True:
        message = await mailbox.next_message(timeout=None)
        if before_pake is not None and message.phase == "pake":
            await before_pake(message.side)
            before_pake = None
        await _receive(mailbox, pairing, message)
        if pairing.role is not None:
            break
    # The version opened: the code was right. Free the nameplate for others.
    with contextlib.suppress(P2PChatError):
        await mailbox.release()
    mark("code-proved")


async def cross_descriptions(
    mailbox: MailboxClient, pairing: Pairing | Reconnect, open_link: Callable[[], RtcLink]
) -> RtcLink:
    """After ``until_verified``: open the link, cross the SDPs, close the mailbox "happy"."""
    link = open_link()
    mark("link-created")
    sdp_sent = False
    while True:
        if not sdp_sent and pairing.role == "offerer":
            await mailbox.add(*_phase_body(pairing.seal_sdp(await link.create_offer())))
            sdp_sent = True
        elif not sdp_sent and pairing.remote_sdp is not None:
            answer = await link.accept_offer(pairing.remote_sdp)
            await mailbox.add(*_phase_body(pairing.seal_sdp(answer)))
            sdp_sent = True
        if pairing.remote_sdp is not None and sdp_sent:
            break
        await _receive(mailbox, pairing, await mailbox.next_message(timeout=None))
    mark("descriptions-crossed")
    if pairing.role == "offerer":
        await link.accept_answer(pairing.remote_sdp)
    with contextlib.suppress(P2PChatError):
        await mailbox.close("happy")
    return link


async def _receive(
    mailbox: MailboxClient, pairing: Pairing | Reconnect, message: MailboxMessage
) -> None:
    """Feed the peer's mailbox message to the handshake and send what it answers."""
    if message.phase == ERROR_PHASE:
        raise _stopped_by_peer(message.body, reconnect=isinstance(pairing, Reconnect))
    for out in pairing.receive(message.phase, message.side, message.body):
        await mailbox.add(out.phase, out.body)


def _stopped_by_peer(body: bytes, *, reconnect: bool) -> P2PChatError:
    """The other side's one-word reason as one of our own sentences.

    Unauthenticated, so it can only ever stop a pairing, never advance one.
    """
    said = _STOPPED_BECAUSE.get(body, _STOPPED_BECAUSE[b"pairing failed"])
    if body == b"label refused":
        return PeerRefusedLabel(said)
    if body == b"key changed":
        return KeyChangeReported(said)
    if reconnect and said == _STOPPED_BECAUSE[b"pairing failed"]:
        return PeerStopped(_STOPPED_MEETING, "meeting_failed")
    if said == _STOPPED_BECAUSE[b"stopped"]:
        return PeerStopped(said, "stopped")
    return PeerStopped(said, "pairing_failed")


async def exchange_bind(
    link: RtcLink, pairing: BindingHandshake
) -> tuple[SessionKeys, list[tuple[Channel, bytes]]]:
    """Open the channels, send our bind and verify the peer's.

    Returns the session keys and the data frames that overtook the peer's bind, to
    be fed to the session once it exists.
    """
    await link.wait_open(CONNECT_TIMEOUT)
    await link.send(Channel.CONTROL, pairing.bind_message())
    early: list[tuple[Channel, bytes]] = []
    while True:
        channel, data = await link.recv(timeout=CONNECT_TIMEOUT)
        if channel == Channel.CONTROL:
            break
        if len(early) >= MAX_EARLY_FRAMES:
            raise RemoteProtocolError("peer sent data before proving who it is")
        early.append((channel, data))
    return pairing.receive_bind(data), early


async def announce_failure(mailbox: MailboxClient, error: BaseException) -> None:
    """Tell the other side to stop waiting, and why in one word, then leave the mailbox."""
    scary = isinstance(error, WrongCode | RemoteProtocolError) and not isinstance(
        error, LabelRefused
    )
    reason = b"pairing failed"
    if isinstance(error, LabelRefused):
        reason = b"label refused"
    elif isinstance(error, IdentityMismatch):
        # Said so the other side does not read "a wrong code" after a new identity.
        reason = b"key changed"
    elif isinstance(error, LocalProtocolError):
        reason = b"stopped"  # our own problem: the peer would otherwise wait for nothing
    if scary or reason != b"pairing failed":
        with contextlib.suppress(Exception):
            await asyncio.wait_for(mailbox.add(ERROR_PHASE, reason), 2)
    mood: Literal["scary", "errory"] = "scary" if scary else "errory"
    with contextlib.suppress(Exception):
        await mailbox.release()
    with contextlib.suppress(Exception):
        await mailbox.close(mood)


def _phase_body(out: object) -> tuple[str, bytes]:
    return out.phase, out.body  # type: ignore[attr-defined]
