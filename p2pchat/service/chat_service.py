"""ChatService: the one async facade the TUI, headless mode and the CLI share.

It wires the sans-I/O core (codes, pairing, session) to the edges (mailbox
client, WebRTC link) and the image pipeline, and turns everything that happens
into ``p2pchat.service.events`` dataclasses on one queue. Front ends never touch the
network or the core directly: they call these methods and read events.

Lifecycle: ``invite()`` or ``join(code)`` starts pairing in a background task;
``wait_paired()`` returns once the bind over the data channel has verified;
then ``send_text`` / ``send_image``; ``close()`` says bye, drains and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import nacl.signing

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
from p2pchat.core.keys import Capabilities, Channel, SessionKeys
from p2pchat.core.labels import check_own_label, safe_label
from p2pchat.core.pairing import Pairing
from p2pchat.core.reconnect import Reconnect
from p2pchat.core.reconnect import meeting_key as reconnect_meeting_key
from p2pchat.media.content_fix import ContentFixes
from p2pchat.media.sanitize import SanitizedImage, SanitizePolicy
from p2pchat.media.worker import sanitize_async
from p2pchat.media.worker_protocol import refusal
from p2pchat.net.ice import check_ice
from p2pchat.net.link import Link
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.rtc_preload import preload_rtc
from p2pchat.service import events as ev
from p2pchat.service import failed_codes
from p2pchat.service.config import (
    BYE_LINGER_SECONDS,
    BYE_REASON_SECONDS,
    CLOSE_GRACE,
    CONFIGURATION_EXIT_CODE,
    CONNECT_TIMEOUT,
    MAILBOX_TIMEOUT,
    MAX_WIRE_FRAME,
    PIN_FAILED_REASON,
    ServiceConfig,
    State,
    close_delivery_limit,
    exit_code_of,
)
from p2pchat.service.events import TimerChanged
from p2pchat.service.incoming_images import IncomingImages
from p2pchat.service.link_choice import PathPlan, connect_and_bind
from p2pchat.service.meeting import meet_contact
from p2pchat.service.pump import FramePump
from p2pchat.service.rendezvous import (
    BindingHandshake,
    announce_failure,
    exchange_bind,
    exchange_descriptions,
)

if TYPE_CHECKING:
    from p2pchat.net.rtc import RtcLink

log = logging.getLogger(__name__)

# A dropped rendezvous connection is reopened (same side, same mailbox) for this
# long: a Wi-Fi hand-over or a server restart behind a load balancer, not an outage.
MAILBOX_RECONNECT_WITHIN = 30.0


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
        # InvalidLabel (a usage error) here, before any network: the peer would refuse it.
        self._own_label = check_own_label(config.label)
        self.identity = config.identity or nacl.signing.SigningKey.generate()
        self.state: State = "idle"
        self.safety_number: str | None = None
        self.peer_identity: bytes | None = None
        self.peer_capabilities: Capabilities | None = None
        self.connection_kind: ev.ConnectionKind = "unknown"
        self.rtt: float | None = None
        self.reconnect_psk: bytes | None = None
        self._joined_code: bytes | None = None
        self._events: asyncio.Queue[ev.ServiceEvent] = asyncio.Queue()
        self._paired = asyncio.Event()
        self._pair_error: BaseException | None = None
        self._mailbox: MailboxClient | None = None
        self._link: Link | None = None
        self._session: core_session.Session | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._output_ready = asyncio.Event()
        self._transfers: dict[str, _Transfer] = {}
        self._pending_delivery: set[str] = set()
        # Sent, then cancelled by the peer (or not kept): never delivered.
        self._not_delivered: list[str] = []
        # Filled in by close(): how many sent items the peer never confirmed.
        self.undelivered = 0
        self._all_delivered = asyncio.Event()
        self._all_delivered.set()
        self._peer_said_bye = asyncio.Event()
        self._closed = asyncio.Event()
        # close() and _shutdown() run once each, in tasks of their own: a second caller
        # (the peer's goodbye and the user's Ctrl-Q at the same moment) joins the first
        # instead of cancelling it halfway through aiortc's close, which never recovers.
        self._closing: asyncio.Task[None] | None = None
        self._shutting_down: asyncio.Task[None] | None = None
        self._incoming_images = IncomingImages(config, self._emit_incoming, self._closed.is_set)
        # Our own photos being cleaned by image workers: shutting down kills them.
        self._preparing: set[asyncio.Future[SanitizedImage]] = set()
        self.vault = self._incoming_images.vault

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
        # Once our caller has shown the code (it does before its next await), load
        # aiortc while the other person types it.
        asyncio.get_running_loop().call_soon(preload_rtc)
        return code

    async def join(self, code: str) -> None:
        """Join with a code read aloud by the other person; pairs in the background."""
        self._require_state("idle")
        parsed = codes.parse(code)  # InvalidCode before touching the network
        preload_rtc()  # aiortc loads while the mailbox and the PAKE run
        self._joined_code = failed_codes.refuse_if_failed(parsed)
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
        check_ice(self.config.ice)
        self._incoming_images.warm_spare()  # for the first photo the peer sends
        self._emit(ev.ConnectionChanged(state="pairing"))
        self._mailbox = await MailboxClient.connect(
            self.config.mailbox_url,
            self.config.appid,
            timeout=MAILBOX_TIMEOUT,
            reconnect_within=MAILBOX_RECONNECT_WITHIN,
        )
        self._mailbox.on_reconnecting = lambda reconnecting: self._emit(
            ev.ConnectionChanged(state="reconnecting" if reconnecting else "pairing")
        )
        return self._mailbox

    async def reconnect(
        self,
        psk: bytes,
        peer_identity: bytes,
        *,
        previous_psk: bytes | None = None,
        meeting_key: bytes | None = None,
    ) -> None:
        """Meet a pinned contact again without a code; pairs in the background.

        Both sides claim a meeting point derived from the contact's meeting key
        (default: from ``psk``) and the day (``service.meeting``) and run
        ``core.reconnect`` with the current reconnect key and, when one is kept,
        the previous one. The ratcheted key arrives in ``Paired``'s session keys
        (``peer_check``), for the contact book.
        """
        self._require_state("idle")
        self.state = "pairing"
        preload_rtc()
        point_key = meeting_key or reconnect_meeting_key(psk)
        # The first connection here, so that an unreachable mailbox raises at once.
        first: list[MailboxClient] = [await self._connect_mailbox()]

        async def connect() -> MailboxClient:
            return first.pop() if first else await self._connect_mailbox()

        def make_handshake(side: str) -> Reconnect:
            return Reconnect(
                psk,
                side,
                self.identity,
                peer_identity,
                self._capabilities(),
                appid=self.config.appid,
                previous_psk=previous_psk,
            )

        async def steps() -> None:
            link, handshake = await meet_contact(
                point_key,
                connect,
                make_handshake,
                self._open_link,
                lambda message: self._emit(ev.Notice(message=message)),
            )
            self._mailbox = None
            await self._bind_and_start(link, handshake)

        self._spawn(self._guard_pairing(steps(), self.config.reconnect_wait))

    def _start_pairing(self, code: str, mailbox: MailboxClient, timeout: float) -> None:
        self._spawn(self._pair(code, mailbox, timeout))

    def _capabilities(self) -> Capabilities:
        return Capabilities(
            view_once=self.config.honours_view_once,
            max_image_bytes=self.config.limits.max_image_bytes,
            max_text_chars=self.config.limits.max_text_chars,
            label=self._own_label,
        )

    async def _pair(
        self,
        code: str,
        mailbox: MailboxClient,
        timeout: float,
        handshake: Pairing | Reconnect | None = None,
    ) -> None:
        await self._guard_pairing(self._pair_steps(code, mailbox, handshake), timeout)

    async def _guard_pairing(self, steps: Coroutine[None, None, None], timeout: float) -> None:
        """Run the pairing ``steps``; any failure ends the session with a clear message."""
        try:
            await asyncio.wait_for(steps, timeout)
        except TimeoutError:
            # Only say nobody came when nobody did: a peer whose messages arrived joined,
            # and it was a connection (theirs or ours) that failed afterwards.
            # No mailbox any more: the descriptions crossed, so the peer was there.
            peer_seen = self._mailbox is None or self._mailbox.peer_seen
            reason = (
                "the other person joined, but pairing did not finish in time (a connection "
                "to the rendezvous server or between you failed)"
                if peer_seen
                else "the other person did not join in time"
            )
            await self._pairing_failed(
                TransportError(f"Pairing timed out: {reason}. Make a new invite and try again.")
            )
        except P2PChatError as error:
            await self._pairing_failed(error)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an edge raising something unexpected is still a failure
            log.exception("pairing crashed")
            await self._pairing_failed(TransportError(f"Pairing failed: {error}"))

    async def _pair_steps(
        self, code: str, mailbox: MailboxClient, handshake: Pairing | Reconnect | None = None
    ) -> None:
        pairing = handshake or Pairing(
            code, mailbox.side, self.identity, self._capabilities(), appid=self.config.appid
        )
        rtc = await exchange_descriptions(mailbox, pairing, self._open_link)
        self._mailbox = None
        assert pairing.remote_sdp is not None
        plan = PathPlan(
            relay=self.config.ice.transit_relay,
            transit_after=self.config.transit_after,
            timeout=CONNECT_TIMEOUT,
            # Relay-only gathers no server-reflexive address, whatever STUN says.
            stun_configured=bool(self.config.ice.stun_urls) and not self.config.ice.relay_only,
        )
        link, keys, early = await connect_and_bind(rtc, pairing.remote_sdp, pairing, plan)
        self._link = link
        await self._check_peer(link, keys)
        self._start_session(link, keys, early)

    def _open_link(self) -> RtcLink:
        from p2pchat.net.rtc import RtcLink  # not at the top: see net/rtc_preload

        self._link = RtcLink(self.config.ice, loopback=self.config.loopback)
        self._emit(ev.ConnectionChanged(state="connecting"))
        return self._link

    async def pair_over_link(
        self,
        link: RtcLink,
        handshake: BindingHandshake,
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
            self._emit(ev.Failed(message=str(failure), exit_code=exit_code_of(failure)))
            self._paired.set()
            self._closed.set()
            raise failure from None
        return self._paired_event()

    async def _bind_and_start(self, link: RtcLink, pairing: BindingHandshake) -> None:
        """Open the channels, exchange and verify the bind, then run the session."""
        keys, early = await exchange_bind(link, pairing)
        await self._check_peer(link, keys)
        self._start_session(link, keys, early)

    async def _check_peer(self, link: Link, keys: SessionKeys) -> None:
        """``peer_check`` (pinning, blocking); a failure to keep the contact is told to the peer.

        A refusal (a changed key, a blocked contact) says nothing to the other side. A
        failure of our own (the contact book could not be saved: a read-only or full
        disk, exit code 2) is said in an encrypted ``bye``, so the other person is not
        left with "the peer closed the connection" while only we know why.
        """
        if self.config.peer_check is None:
            return
        try:
            self.config.peer_check(keys)
        except P2PChatError as error:
            if error.exit_code == CONFIGURATION_EXIT_CODE:
                await self._say_bye_with_reason(link, keys, PIN_FAILED_REASON)
            raise

    async def _say_bye_with_reason(self, link: Link, keys: SessionKeys, reason: str) -> None:
        session = core_session.Session(keys, limits=self.config.limits, clock=time.time)
        session.close(reason)
        with contextlib.suppress(P2PChatError, TimeoutError):
            async with asyncio.timeout(BYE_REASON_SECONDS):
                while (frame := session.next_frame()) is not None:
                    await link.wait_writable(len(frame[1]))
                    await link.send(*frame)
                # Let it leave before the caller closes the link under it.
                await link.wait_writable(MAX_WIRE_FRAME)
                await asyncio.sleep(BYE_LINGER_SECONDS)

    def _start_session(
        self, link: Link, keys: SessionKeys, early: list[tuple[Channel, bytes]]
    ) -> None:
        self._session = core_session.Session(
            keys,
            limits=self.config.limits,
            clock=time.time,
            hold_image_acks=self.config.confirm_images,
            hold_text_acks=self.config.confirm_texts,
        )
        self.safety_number = keys.safety_number
        self.peer_identity = keys.peer_identity
        self.peer_capabilities = keys.peer_capabilities
        self.reconnect_psk = keys.reconnect_psk
        self.connection_kind = link.connection_kind
        self.state = "paired"
        pump = FramePump(
            self._session, link, self._output_ready, self.config, self._dispatch, self._lost
        )
        self._emit(ev.ConnectionChanged(state="connected", connection=self.connection_kind))
        self._emit(self._paired_event())
        self._paired.set()
        for channel, data in early:
            pump.receive(channel, data)
        self._output_ready.set()
        self._spawn(pump.send_loop())
        self._spawn(pump.receive_loop())
        self._spawn(pump.heartbeat_loop())

    async def _pairing_failed(self, error: BaseException) -> None:
        self.state = "failed"
        self._pair_error = error
        if self._joined_code is not None and isinstance(error, WrongCode | RemoteProtocolError):
            failed_codes.remember_failure(self._joined_code)
        if self._mailbox is not None:
            await announce_failure(self._mailbox, error)
        if self._link is not None:
            with contextlib.suppress(Exception):
                await self._link.close()
        self._emit(ev.Failed(message=str(error), exit_code=exit_code_of(error)))
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

    async def prepare_image(
        self,
        data: bytes,
        original_size: bool = False,
        *,
        fixes: ContentFixes | None = None,
        max_side: int | None = None,
    ) -> SanitizedImage:
        """Strip and re-encode the user's own image in an isolated worker (media.worker),
        and check what it shows.

        The same limits as for received photos (time, memory, pixels, the shared worker
        budget); the conversation carries on meanwhile. Closing kills the worker: then
        this raises ImageRejected, as for any refusal. The picture check (faces, text)
        and any blur the sender chose run in that worker too, so OpenCV is never loaded
        into the chat process. ``max_side`` lowers the resolution on purpose (it never
        raises it).
        """
        policy = self.config.image_policy
        if original_size:
            policy = SanitizePolicy(max_long_edge=None, side="send")
        if max_side is not None:
            current = policy.max_long_edge
            policy = replace(
                policy, max_long_edge=max_side if current is None else min(current, max_side)
            )
        policy = replace(policy, scan_content=True, fixes=fixes or ContentFixes())
        job = asyncio.ensure_future(sanitize_async(data, policy))
        self._preparing.add(job)
        try:
            return await job
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if job.cancelled() and (caller is None or not caller.cancelling()):
                raise refusal("send", "closed") from None
            raise
        finally:
            job.cancel()
            self._preparing.discard(job)

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
        # Hashing a 20 MB photo takes tens of milliseconds: not on the event loop.
        digest = await asyncio.to_thread(lambda: hashlib.sha256(prepared.data).digest())
        message_id = session.send_image(
            prepared.data,
            prepared.mime,
            prepared.width,
            prepared.height,
            view_once=view_once,
            view_seconds=view_seconds,
            sha256=digest,
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

    def acknowledge(self, message_id: str) -> None:
        """The front end kept a received photo or wrote a text: the sender hears "delivered"."""
        if self._session is not None:
            self._session.acknowledge(message_id)
            self._output_ready.set()

    def refuse_image(self, message_id: str) -> None:
        """The front end could not keep a received photo: the sender hears it was cancelled."""
        if self._session is not None:
            self._session.refuse_image(message_id)
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
        if self._not_delivered:
            raise PeerLost(
                f"{len(self._not_delivered)} photo(s) did not reach the peer or were not "
                "kept there (cancelled, or the peer could not save them)."
            )

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

    def _emit_incoming(self, event: ev.ServiceEvent) -> None:
        # A photo whose ack is held and that the re-sanitiser refused is never kept.
        if self.config.confirm_images and isinstance(event, ev.ImageRejected):
            self.refuse_image(event.message_id)
        self._emit(event)

    # ------------------------------------------------------------------ session events
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
            refused = self._incoming_images.offered(event.id)
            if refused is not None:
                self._refuse_incoming(event.id, refused)
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
            self._incoming_images.accept(event)
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
            if event.direction == "in":
                self._incoming_images.cancelled(event.id)
            transfer = self._transfers.pop(event.id, None)
            if event.by_peer and event.id in self._pending_delivery:
                self._not_delivered.append(event.id)
            self._delivered(event.id)
            direction: ev.Direction = event.direction
            self._emit(ev.TransferCancelled(event.id, direction, by_peer=event.by_peer))
        elif isinstance(event, s.PeerBye):
            self._peer_said_bye.set()
            said = safe_label(event.reason, 300)
            self._spawn(
                self._peer_left(
                    f"The other side ended the conversation: {said}"
                    if said
                    else "The peer left the conversation."
                )
            )

    def _refuse_incoming(self, message_id: str, reason: str) -> None:
        """No room to check this photo: stop its transfer (which tells the sender), say why."""
        with contextlib.suppress(P2PChatError):  # a failed session sends nothing more anyway
            if self._session is not None and self._session.cancel_image(message_id):
                self._dispatch(self._session.events())
                self._output_ready.set()
        self._emit(ev.ImageRejected(message_id, reason))

    # ------------------------------------------------------------------ closing
    async def _peer_left(self, reason: str) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        # Images that arrived before the bye are still being re-sanitised: deliver them.
        await self._incoming_images.wait_accepted()
        self._emit(ev.PeerLeft(reason))
        await self._shutdown()

    async def _lost(self, error: P2PChatError) -> None:
        if self.state in ("closing", "closed", "failed"):
            return
        if isinstance(error, TransportError) and self._peer_said_bye.is_set():
            return
        self.state = "failed"
        self._emit(ev.ConnectionChanged(state="lost", connection=self.connection_kind))
        self._emit(ev.Failed(message=str(error), exit_code=exit_code_of(error)))
        await self._shutdown()

    async def close(self) -> int:
        """Wait until the peer confirmed what was sent, say bye, drain, close everything.

        The wait ends when everything is delivered, when the peer is gone, or after
        ``close_delivery_limit`` (proportional to what is queued). Returns how many
        sent items the peer never confirmed (also kept in ``undelivered``).
        Idempotent and safe to call concurrently: every caller waits for the one close.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_once())
        await asyncio.shield(self._closing)
        return self.undelivered

    async def _wait_queued_delivered(self) -> None:
        session = self._session
        if session is None or self._all_delivered.is_set():
            return
        limit = close_delivery_limit(len(self._pending_delivery), session.outgoing_image_bytes)
        with contextlib.suppress(PeerLost):
            await self.wait_delivered(limit)

    async def _close_once(self) -> None:
        if self.state == "paired":
            await self._wait_queued_delivered()
        # Counted before the bye: saying it cancels the photos still queued.
        self._count_undelivered()
        if self.state == "paired" and self._session is not None and self._link is not None:
            self.state = "closing"
            with contextlib.suppress(P2PChatError):
                self._session.close()
                self._output_ready.set()
            with contextlib.suppress(Exception):
                await asyncio.sleep(0)
                await self._link.drain(CLOSE_GRACE)
        await self._shutdown()

    def _count_undelivered(self) -> None:
        # Never lowered: the bye's own cancellations clear the pending set afterwards.
        unconfirmed = len(self._pending_delivery) + len(self._not_delivered)
        self.undelivered = max(self.undelivered, unconfirmed)

    async def _shutdown(self) -> None:
        if self._shutting_down is None:
            self._shutting_down = asyncio.ensure_future(self._shutdown_once())
        # Shielded: _shutdown_once cancels the service's tasks, perhaps the caller's own.
        await asyncio.shield(self._shutting_down)

    async def _shutdown_once(self) -> None:
        self._count_undelivered()
        if self.state != "failed":
            self.state = "closed"
        for task in list(self._tasks):
            task.cancel()
        for job in list(self._preparing):
            job.cancel()
        self._incoming_images.wipe_all()
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
        await self._incoming_images.spare_gone()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # ------------------------------------------------------------------ helpers
    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
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
