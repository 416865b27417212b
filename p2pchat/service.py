"""ChatService: the one async facade the TUI, headless mode and the CLI share.

It wires the sans-I/O core (codes, pairing, session) to the edges (mailbox
client, WebRTC link) and the image pipeline, and turns everything that happens
into ``p2pchat.events`` dataclasses on one queue. Front ends never touch the
network or the core directly: they call these methods and read events.

Lifecycle: ``invite()`` or ``join(code)`` starts pairing in a background task;
``wait_paired()`` returns once the bind over the data channel has verified;
then ``send_text`` / ``send_image``; ``close()`` says bye, drains and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, cast

import nacl.signing

from p2pchat import APPID
from p2pchat import events as ev
from p2pchat.core import codes
from p2pchat.core import session as core_session
from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import (
    ImageRejected,
    LocalProtocolError,
    P2PChatError,
    PeerLost,
    RemoteProtocolError,
    TransportError,
    WrongCode,
)
from p2pchat.core.keys import Capabilities, Channel, Limits, SessionKeys
from p2pchat.core.labels import safe_label
from p2pchat.core.manual import ManualPairing
from p2pchat.core.pairing import Pairing
from p2pchat.core.reconnect import Reconnect, rendezvous_nameplate
from p2pchat.events import TimerChanged
from p2pchat.media.sanitize import SanitizedImage, SanitizePolicy, sanitize_image
from p2pchat.media.vault import DEFAULT_UNOPENED_TIMEOUT, Vault
from p2pchat.media.worker import sanitize_isolated
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.rtc import IceSettings, RtcLink, ice_configuration

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL: Final = 5.0
HEARTBEAT_TIMEOUT: Final = 15.0
CODE_VALIDITY: Final = 600.0
RECONNECT_WAIT: Final = 600.0  # how long to wait at the meeting point for a contact
MAILBOX_TIMEOUT: Final = 10.0
CONNECT_TIMEOUT: Final = 20.0
CLOSE_GRACE: Final = 2.0
MAX_EARLY_FRAMES: Final = 64
MAX_WIRE_FRAME: Final = 64 * 1024  # a chunk frame: 60 KiB of data plus framing and MAC
ERROR_PHASE: Final = "error"  # tells the other side to stop waiting; carries no secret

State = Literal["idle", "pairing", "paired", "closing", "closed", "failed"]


def _exit_code(error: BaseException) -> int:
    from p2pchat.exit_codes import exit_code_for

    return exit_code_for(error)


@dataclass
class ServiceConfig:
    mailbox_url: str
    ice: IceSettings = field(default_factory=IceSettings)
    loopback: bool = False
    identity: nacl.signing.SigningKey | None = None
    honours_view_once: bool = True
    image_policy: SanitizePolicy = field(default_factory=SanitizePolicy)
    limits: Limits = field(default_factory=Limits)
    label: str = ""
    appid: str = APPID
    code_validity: float = CODE_VALIDITY
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT
    # How long a received view-once photo may wait unopened before it is wiped.
    view_once_timeout: float = DEFAULT_UNOPENED_TIMEOUT
    # Called with the verified peer's keys before ``Paired`` is emitted or any frame is
    # read; raising a P2PChatError stops the session (pinned key changed, blocked).
    peer_check: Callable[[SessionKeys], None] | None = None
    reconnect_wait: float = RECONNECT_WAIT


@dataclass
class _Transfer:
    direction: ev.Direction
    total: int
    started: float
    view_once: bool


class ChatService:
    """One conversation with one peer, from invite or code to close."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.identity = config.identity or nacl.signing.SigningKey.generate()
        self.state: State = "idle"
        self.safety_number: str | None = None
        self.peer_identity: bytes | None = None
        self.peer_capabilities: Capabilities | None = None
        self.connection_kind: ev.ConnectionKind = "unknown"
        self.rtt: float | None = None
        self.reconnect_psk: bytes | None = None
        self._events: asyncio.Queue[ev.ServiceEvent] = asyncio.Queue()
        self._paired = asyncio.Event()
        self._pair_error: BaseException | None = None
        self._mailbox: MailboxClient | None = None
        self._link: RtcLink | None = None
        self._session: core_session.Session | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._accepting: set[asyncio.Future[None]] = set()
        self._output_ready = asyncio.Event()
        self._transfers: dict[str, _Transfer] = {}
        self._pending_delivery: set[str] = set()
        self._all_delivered = asyncio.Event()
        self._all_delivered.set()
        self._last_heard = time.monotonic()
        self._peer_said_bye = asyncio.Event()
        self._closed = asyncio.Event()
        # Received view-once photos: in memory only, wiped when viewed, expired or closed.
        self.vault = Vault(clock=time.monotonic)
        self._vault_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ pairing
    @property
    def fingerprint(self) -> str:
        return fingerprint(bytes(self.identity.verify_key))

    async def invite(self) -> str:
        """Allocate a nameplate, make a code, and pair in the background."""
        self._require_state("idle")
        self.state = "pairing"
        mailbox = await self._connect_mailbox()
        nameplate = await mailbox.allocate()
        await mailbox.open(await mailbox.claim(nameplate))
        code = str(codes.generate(nameplate))
        self._emit(ev.CodeReady(code=code, expires_in=self.config.code_validity))
        self._start_pairing(code, mailbox, timeout=self.config.code_validity)
        return code

    async def join(self, code: str) -> None:
        """Join with a code read aloud by the other person; pairs in the background."""
        self._require_state("idle")
        parsed = codes.parse(code)  # InvalidCode before touching the network
        self.state = "pairing"
        mailbox = await self._connect_mailbox()
        await mailbox.open(await mailbox.claim(parsed.nameplate))
        self._start_pairing(str(parsed), mailbox, timeout=CONNECT_TIMEOUT * 3)

    async def wait_paired(self, timeout: float | None = None) -> ev.Paired:
        await asyncio.wait_for(self._paired.wait(), timeout)
        if self._pair_error is not None:
            raise self._pair_error
        assert self.safety_number is not None and self.peer_identity is not None
        return self._paired_event()

    def _paired_event(self) -> ev.Paired:
        assert self.safety_number is not None and self.peer_identity is not None
        caps = self.peer_capabilities or Capabilities()
        return ev.Paired(
            safety_number=self.safety_number,
            peer_fingerprint=fingerprint(self.peer_identity),
            connection=self.connection_kind,
            peer_view_once=caps.view_once,
            peer_label=safe_label(caps.label, 64) or "peer",
            peer_identity=self.peer_identity,
        )

    async def _connect_mailbox(self) -> MailboxClient:
        # Refuse an unusable ICE setup (relay-only without TURN, ...) before anyone waits.
        ice_configuration(self.config.ice)
        self._emit(ev.ConnectionChanged(state="pairing"))
        self._mailbox = await MailboxClient.connect(
            self.config.mailbox_url, self.config.appid, timeout=MAILBOX_TIMEOUT
        )
        return self._mailbox

    async def reconnect(self, psk: bytes, peer_identity: bytes) -> None:
        """Meet a pinned contact again without a code; pairs in the background.

        Both sides claim a nameplate derived from the shared reconnect key and run
        ``core.reconnect`` (identity-signed hellos, fresh ephemerals).
        """
        self._require_state("idle")
        self.state = "pairing"
        mailbox = await self._connect_mailbox()
        await mailbox.open(await mailbox.claim(rendezvous_nameplate(psk)))
        handshake = Reconnect(
            psk,
            mailbox.side,
            self.identity,
            peer_identity,
            self._capabilities(),
            appid=self.config.appid,
        )
        self._spawn(self._pair("", mailbox, self.config.reconnect_wait, handshake))

    def _start_pairing(self, code: str, mailbox: MailboxClient, timeout: float) -> None:
        self._spawn(self._pair(code, mailbox, timeout))

    def _capabilities(self) -> Capabilities:
        return Capabilities(
            view_once=self.config.honours_view_once,
            max_image_bytes=self.config.limits.max_image_bytes,
            max_text_chars=self.config.limits.max_text_chars,
            label=self.config.label,
        )

    async def _pair(
        self,
        code: str,
        mailbox: MailboxClient,
        timeout: float,
        handshake: Pairing | Reconnect | None = None,
    ) -> None:
        try:
            await asyncio.wait_for(self._pair_steps(code, mailbox, handshake), timeout)
        except TimeoutError:
            await self._pairing_failed(
                TransportError(
                    "Pairing timed out: the other person did not join in time. "
                    "Make a new invite and try again."
                ),
                mailbox,
            )
        except P2PChatError as error:
            await self._pairing_failed(error, mailbox)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an edge raising something unexpected is still a failure
            log.exception("pairing crashed")
            await self._pairing_failed(TransportError(f"Pairing failed: {error}"), mailbox)

    async def _pair_steps(
        self, code: str, mailbox: MailboxClient, handshake: Pairing | Reconnect | None = None
    ) -> None:
        pairing = handshake or Pairing(
            code, mailbox.side, self.identity, self._capabilities(), appid=self.config.appid
        )
        for out in pairing.start():
            await mailbox.add(out.phase, out.body)
        link: RtcLink | None = None
        sdp_sent = False
        while pairing.remote_sdp is None or not sdp_sent:
            message = await mailbox.next_message(timeout=None)
            if message.phase == ERROR_PHASE:
                # Unauthenticated, so it can only ever stop a pairing, never advance one.
                raise RemoteProtocolError(
                    "The other side reported that pairing failed: a wrong code, or someone "
                    "tampered with the exchange. Make a new invite and try again."
                )
            for out in pairing.receive(message.phase, message.side, message.body):
                await mailbox.add(out.phase, out.body)
            if pairing.role is None:
                continue
            if link is None:
                # The version opened: the code was right. Free the nameplate for others.
                with contextlib.suppress(P2PChatError):
                    await mailbox.release()
                link = self._link = RtcLink(self.config.ice, loopback=self.config.loopback)
                self._emit(ev.ConnectionChanged(state="connecting"))
            if not sdp_sent and pairing.role == "offerer":
                await mailbox.add(*_phase_body(pairing.seal_sdp(await link.create_offer())))
                sdp_sent = True
            elif not sdp_sent and pairing.remote_sdp is not None:
                answer = await link.accept_offer(pairing.remote_sdp)
                await mailbox.add(*_phase_body(pairing.seal_sdp(answer)))
                sdp_sent = True
        assert link is not None
        if pairing.role == "offerer":
            await link.accept_answer(pairing.remote_sdp)
        with contextlib.suppress(P2PChatError):
            await mailbox.close("happy")
        self._mailbox = None
        await self._bind_and_start(link, pairing)

    async def pair_over_link(
        self,
        link: RtcLink,
        handshake: Reconnect | ManualPairing,
        timeout: float = CONNECT_TIMEOUT,
    ) -> ev.Paired:
        """Finish a pairing whose SDPs travelled another way (copy-paste, no mailbox).

        ``link`` already holds both descriptions; this opens the channels, verifies
        the bind (and ``peer_check``) and starts the session, as after a code.
        """
        self._require_state("idle")
        self.state = "pairing"
        self._link = link
        try:
            await asyncio.wait_for(self._bind_and_start(link, handshake), timeout)
        except (TimeoutError, P2PChatError) as error:
            failure = (
                error
                if isinstance(error, P2PChatError)
                else TransportError("The peer did not connect in time: paste the blobs again.")
            )
            self.state = "failed"
            self._pair_error = failure
            with contextlib.suppress(Exception):
                await link.close()
            self._emit(ev.Failed(message=str(failure), exit_code=_exit_code(failure)))
            self._paired.set()
            self._closed.set()
            raise failure from None
        return self._paired_event()

    async def _bind_and_start(
        self, link: RtcLink, pairing: Pairing | Reconnect | ManualPairing
    ) -> None:
        """Open the channels, exchange and verify the bind, then run the session."""
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
        keys = pairing.receive_bind(data)
        if self.config.peer_check is not None:
            self.config.peer_check(keys)
        self._session = core_session.Session(keys, limits=self.config.limits, clock=time.time)
        self.safety_number = keys.safety_number
        self.peer_identity = keys.peer_identity
        self.peer_capabilities = keys.peer_capabilities
        self.reconnect_psk = keys.reconnect_psk
        self.connection_kind = link.connection_kind
        self.state = "paired"
        self._last_heard = time.monotonic()
        self._emit(ev.ConnectionChanged(state="connected", connection=self.connection_kind))
        self._emit(self._paired_event())
        self._paired.set()
        for channel, data in early:
            self._receive(channel, data)
        self._output_ready.set()
        self._spawn(self._send_loop())
        self._spawn(self._receive_loop())
        self._spawn(self._heartbeat_loop())

    async def _pairing_failed(self, error: BaseException, mailbox: MailboxClient) -> None:
        self.state = "failed"
        self._pair_error = error
        scary = isinstance(error, WrongCode | RemoteProtocolError)
        if scary:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(mailbox.add(ERROR_PHASE, b"pairing failed"), 2)
        mood = "scary" if scary else "errory"
        with contextlib.suppress(Exception):
            await mailbox.release()
        with contextlib.suppress(Exception):
            await mailbox.close(mood)
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.close()
        self._emit(ev.Failed(message=str(error), exit_code=_exit_code(error)))
        self._paired.set()
        self._closed.set()

    # ------------------------------------------------------------------ sending
    async def send_text(self, text: str) -> str:
        session = self._require_session()
        if not text.strip():
            raise LocalProtocolError("Nothing to send: the message is empty.")
        limit = (self.peer_capabilities or Capabilities()).max_text_chars
        if len(text) > limit:
            raise LocalProtocolError(
                f"Message too long: the peer accepts at most {limit} characters."
            )
        message_id = session.send_text(text)
        self._expect_delivery(message_id)
        self._output_ready.set()
        return message_id

    async def prepare_image(self, data: bytes, original_size: bool = False) -> SanitizedImage:
        """Strip and re-encode the user's own image (in a thread: Pillow is slow)."""
        policy = self.config.image_policy
        if original_size:
            policy = SanitizePolicy(max_long_edge=None, side="send")
        return await asyncio.to_thread(sanitize_image, data, policy)

    async def send_image(
        self, prepared: SanitizedImage, view_once: bool = False, view_seconds: float = 10.0
    ) -> str:
        session = self._require_session()
        caps = self.peer_capabilities or Capabilities()
        if len(prepared.data) > caps.max_image_bytes:
            raise ImageRejected(
                f"The image is {len(prepared.data)} bytes; the peer accepts at most "
                f"{caps.max_image_bytes}."
            )
        if view_once and not caps.view_once:
            raise ImageRejected(
                "The peer's app cannot honour view-once (a script or bot): send it normally "
                "or not at all."
            )
        message_id = session.send_image(
            prepared.data,
            prepared.mime,
            prepared.width,
            prepared.height,
            view_once=view_once,
            view_seconds=view_seconds,
        )
        self._transfers[message_id] = _Transfer(
            "out", len(prepared.data), time.monotonic(), view_once
        )
        self._emit(ev.TransferStarted(message_id, "out", len(prepared.data), view_once))
        self._expect_delivery(message_id)
        self._output_ready.set()
        return message_id

    async def cancel_transfer(self, message_id: str) -> None:
        session = self._require_session()
        session.cancel_image(message_id)
        transfer = self._transfers.pop(message_id, None)
        self._delivered(message_id)
        if transfer is not None:
            self._emit(ev.TransferCancelled(message_id, transfer.direction, by_peer=False))
        self._output_ready.set()

    async def set_timer(self, seconds: int) -> None:
        """Set the disappearing-message timer for both sides (0: off; see framing.TIMER_SECONDS)."""
        self._require_session().send_timer(seconds)
        self._emit(TimerChanged(seconds, by_peer=False))
        self._output_ready.set()

    async def send_typing(self) -> None:
        self._require_session().send_typing()
        self._output_ready.set()

    async def mark_opened(self, message_id: str) -> None:
        """Tell the sender a view-once image was opened and is now gone.

        Whatever the viewer did, the photo's bytes are wiped here before the receipt leaves.
        """
        for vault_id in self.vault.ids_for(message_id):
            self.vault.close(vault_id)
        self._require_session().send_opened(message_id)
        self._output_ready.set()

    async def wait_delivered(self, timeout: float | None = None) -> None:
        """Wait until the peer acknowledged every message and image sent so far."""
        waiter = asyncio.ensure_future(self._all_delivered.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {waiter, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waiter.cancel()
            closed.cancel()
        if not self._all_delivered.is_set():
            if not done:
                raise PeerLost("The peer did not confirm delivery in time.")
            raise PeerLost("The peer left before everything was delivered.")

    def _expect_delivery(self, message_id: str) -> None:
        self._pending_delivery.add(message_id)
        self._all_delivered.clear()

    def _delivered(self, message_id: str) -> None:
        self._pending_delivery.discard(message_id)
        if not self._pending_delivery:
            self._all_delivered.set()

    # ------------------------------------------------------------------ events
    async def next_event(self) -> ev.ServiceEvent:
        return await self._events.get()

    async def events(self) -> AsyncIterator[ev.ServiceEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, ev.Closed):
                return

    def _emit(self, event: ev.ServiceEvent) -> None:
        self._events.put_nowait(event)

    # ------------------------------------------------------------------ loops
    async def _send_loop(self) -> None:
        session, link = self._require_session(), self._require_link()
        try:
            while True:
                await self._output_ready.wait()
                self._output_ready.clear()
                while True:
                    # Room first, then choose: text queued while we waited overtakes chunks.
                    await link.wait_writable(MAX_WIRE_FRAME)
                    frame = session.next_frame()
                    if frame is None:
                        break
                    await link.send(*frame)
                    self._dispatch(session.events())
        except asyncio.CancelledError:
            raise
        except P2PChatError as error:
            await self._lost(error)

    async def _receive_loop(self) -> None:
        link = self._require_link()
        try:
            while True:
                channel, data = await link.recv()
                self._receive(channel, data)
        except asyncio.CancelledError:
            raise
        except P2PChatError as error:
            await self._lost(error)

    def _receive(self, channel: Channel, data: bytes) -> None:
        session = self._require_session()
        self._last_heard = time.monotonic()
        session.receive_data(channel, data)  # errors here are fatal: the loop reports them
        self._dispatch(session.events())
        self._output_ready.set()  # acks and pongs the session queued

    async def _heartbeat_loop(self) -> None:
        session = self._require_session()
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            silent_for = time.monotonic() - self._last_heard
            if silent_for > self.config.heartbeat_timeout:
                await self._lost(
                    PeerLost(f"The peer stopped answering ({silent_for:.0f} s without a sign).")
                )
                return
            with contextlib.suppress(P2PChatError):
                session.send_ping()
                self._output_ready.set()

    def _dispatch(self, session_events: list[core_session.SessionEvent]) -> None:
        for event in session_events:
            self._translate(event)

    def _translate(self, event: core_session.SessionEvent) -> None:
        s = core_session
        if isinstance(event, s.TextReceived):
            self._emit(
                ev.TextReceived(
                    event.id, safe_label(event.text, 16_000, multiline=True), event.sent_at
                )
            )
        elif isinstance(event, s.ImageOffered):
            self._transfers[event.id] = _Transfer(
                "in", event.size, time.monotonic(), event.view_once
            )
            self._emit(ev.TransferStarted(event.id, "in", event.size, event.view_once))
        elif isinstance(event, s.ChunkProgress):
            transfer = self._transfers.get(event.id)
            if transfer is not None:
                elapsed = max(time.monotonic() - transfer.started, 1e-6)
                self._emit(
                    ev.TransferProgress(
                        event.id, transfer.direction, event.done, event.total, event.done / elapsed
                    )
                )
        elif isinstance(event, s.ImageComplete):
            self._transfers.pop(event.id, None)
            accepting = asyncio.ensure_future(self._accept_image(event))
            self._accepting.add(accepting)
            accepting.add_done_callback(self._accepting.discard)
        elif isinstance(event, s.Acknowledged):
            self._transfers.pop(event.id, None)
            self._delivered(event.id)
            self._emit(ev.Delivered(event.id))
        elif isinstance(event, s.Opened):
            self._emit(ev.Opened(event.id))
        elif isinstance(event, s.TypingReceived):
            self._emit(ev.PeerTyping())
        elif isinstance(event, s.TimerChanged):
            self._emit(TimerChanged(event.seconds, by_peer=True))
        elif isinstance(event, s.PongReceived):
            self.rtt = event.rtt
            self._emit(ev.RoundTrip(event.rtt))
        elif isinstance(event, s.ImageCancelled):
            transfer = self._transfers.pop(event.id, None)
            self._delivered(event.id)
            direction: ev.Direction = event.direction
            self._emit(ev.TransferCancelled(event.id, direction, by_peer=event.by_peer))
        elif isinstance(event, s.PeerBye):
            self._peer_said_bye.set()
            self._spawn(self._peer_left("The peer left the conversation."))

    async def _accept_image(self, event: core_session.ImageComplete) -> None:
        """Re-sanitise what arrived in an isolated worker; only its output is ever shown."""
        data = event.data
        if event.view_once and not self.config.honours_view_once:
            # A modified peer sent view-once to a script: never deliver the bytes.
            _wipe(data)
            self._emit(ev.ImageReceived(event.id, b"", "", 0, 0, True, event.view_seconds, ()))
            return
        if event.view_once:
            await self._accept_view_once(event)
            return
        policy = SanitizePolicy(max_long_edge=None, side="receive")
        try:
            clean = await asyncio.to_thread(sanitize_isolated, bytes(data), policy)
        except ImageRejected as error:
            self._emit(ev.ImageRejected(event.id, str(error)))
            return
        finally:
            _wipe(data)
        removed = tuple(f.message for f in clean.report.findings)
        self._emit(
            ev.ImageReceived(
                event.id,
                clean.data,
                clean.mime,
                clean.width,
                clean.height,
                event.view_once,
                event.view_seconds,
                removed,
            )
        )

    async def _accept_view_once(self, event: core_session.ImageComplete) -> None:
        """Re-sanitise a view-once photo over pipes and seal the result in the vault.

        The session handed over its own bytearray; it is overwritten as soon as the
        worker answered. No bytes leave in the event: front ends get a ``vault_id``.
        """
        data = event.data
        policy = SanitizePolicy(max_long_edge=None, side="receive")
        try:
            # The worker copies it into its request anyway (it only needs len() and bytes()):
            # no extra immutable copy here.
            clean = await asyncio.to_thread(sanitize_isolated, cast(bytes, data), policy)
        except ImageRejected as error:
            self._emit(ev.ImageRejected(event.id, str(error)))
            return
        finally:
            _wipe(data)
        sealed = bytearray(clean.data)
        clean.data = b""
        vault_id = self.vault.put(
            event.id,
            sealed,
            clean.mime,
            clean.width,
            clean.height,
            view_seconds=event.view_seconds,
            expires_at=time.monotonic() + self.config.view_once_timeout,
        )
        del sealed
        self._schedule_vault_expiry()
        self._emit(
            ev.ImageReceived(
                event.id,
                b"",
                clean.mime,
                clean.width,
                clean.height,
                True,
                event.view_seconds,
                tuple(f.message for f in clean.report.findings),
                vault_id=vault_id,
            )
        )

    def _schedule_vault_expiry(self) -> None:
        if self._vault_timer is not None:
            self._vault_timer.cancel()
            self._vault_timer = None
        deadline = self.vault.next_deadline()
        if deadline is None or self._closed.is_set():
            return
        delay = max(0.0, deadline - time.monotonic())
        self._vault_timer = asyncio.get_running_loop().call_later(delay, self._expire_vault)

    def _expire_vault(self) -> None:
        self._vault_timer = None
        self.vault.expire(time.monotonic())
        self._schedule_vault_expiry()

    # ------------------------------------------------------------------ closing
    async def _peer_left(self, reason: str) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        if self._accepting:
            # Images that arrived before the bye are still being re-sanitised: deliver them.
            await asyncio.gather(*self._accepting, return_exceptions=True)
        self._emit(ev.PeerLeft(reason))
        await self._shutdown()

    async def _lost(self, error: P2PChatError) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        if isinstance(error, TransportError) and self._peer_said_bye.is_set():
            return
        self.state = "failed"
        self._emit(ev.ConnectionChanged(state="lost", connection=self.connection_kind))
        self._emit(ev.Failed(message=str(error), exit_code=_exit_code(error)))
        await self._shutdown()

    async def close(self) -> None:
        """Say bye, let queued frames drain, then close everything. Idempotent."""
        if self.state == "paired" and self._session is not None and self._link is not None:
            self.state = "closing"
            with contextlib.suppress(P2PChatError):
                self._session.close()
                self._output_ready.set()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)
                await self._link.drain(CLOSE_GRACE)
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._closed.is_set() and self.state == "closed":
            return
        if self.state != "failed":
            self.state = "closed"
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        # A view-once photo never outlives its conversation.
        if self._vault_timer is not None:
            self._vault_timer.cancel()
            self._vault_timer = None
        self.vault.wipe_all()
        if self._mailbox is not None:
            with contextlib.suppress(Exception):
                await self._mailbox.close("lonely")
            self._mailbox = None
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.close()
        self._emit(ev.ConnectionChanged(state="closed", connection=self.connection_kind))
        self._emit(ev.Closed())
        self._closed.set()
        self._paired.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # ------------------------------------------------------------------ helpers
    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._tasks.append(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._tasks.remove(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("service task failed", exc_info=task.exception())

    def _require_state(self, *allowed: State) -> None:
        if self.state not in allowed:
            raise LocalProtocolError(f"Cannot do that now: the conversation is {self.state}.")

    def _require_session(self) -> core_session.Session:
        if self._session is None or self.state not in ("paired", "closing"):
            raise LocalProtocolError("Not connected to a peer.")
        return self._session

    def _require_link(self) -> RtcLink:
        if self._link is None:
            raise LocalProtocolError("Not connected to a peer.")
        return self._link


class LocalMailbox:
    """An embedded mailbox server in this process (demo, LAN use), for front ends.

    Front ends reach the network only through this module; this is their handle on
    ``net.mailbox_server`` without importing it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from p2pchat.net.mailbox_server import MailboxServer

        self._server = MailboxServer(host=host, port=port)
        self.url = ""

    async def start(self) -> str:
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        await self._server.stop()


def _phase_body(out: object) -> tuple[str, bytes]:
    return out.phase, out.body  # type: ignore[attr-defined]


def _wipe(buffer: bytes | bytearray | memoryview) -> None:
    """Overwrite a mutable buffer in place (bytes are immutable: nothing to do)."""
    if isinstance(buffer, bytearray):
        buffer[:] = bytes(len(buffer))


def default_mailbox_url() -> str:
    """--mailbox, else P2PCHAT_MAILBOX, else the settings file, else the public server."""
    env = os.environ.get("P2PCHAT_MAILBOX")
    if env:
        return env
    try:
        from p2pchat.store.settings import load_settings

        return str(load_settings().mailbox_url)
    except (ImportError, P2PChatError, OSError):
        return "ws://relay.magic-wormhole.io:4000/v1"
