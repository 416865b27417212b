"""Pairing, the first half of ChatService: invite, join, reconnect, bind, start the session.

``PairingFlow`` turns a code (or a pinned contact, or copy-pasted descriptions)
into a verified ``core.session.Session`` over a link: the mailbox steps
(``rendezvous``), the meeting point of a contact (``meeting``), the choice of
path (``link_choice``), the bind and ``peer_check``; then it starts the frame
pump. A failure ends the attempt with a ``Failed`` event and a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from functools import partial
from typing import TYPE_CHECKING

from p2pchat.core import codes
from p2pchat.core import session as core_session
from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import (
    P2PChatError,
    RemoteProtocolError,
    TransportError,
    WrongCode,
)
from p2pchat.core.handshake import Pairing, Reconnect
from p2pchat.core.handshake import meeting_key as reconnect_meeting_key
from p2pchat.core.keys import Capabilities, Channel, SessionKeys
from p2pchat.core.labels import safe_label
from p2pchat.core.timeline import mark
from p2pchat.net.ice import check_ice
from p2pchat.net.link import Link
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.rtc_preload import preload_rtc
from p2pchat.service import events as ev
from p2pchat.service import failed_codes
from p2pchat.service.config import (
    CONNECT_TIMEOUT,
    MAILBOX_TIMEOUT,
)
from p2pchat.service.direct_race import DirectSide
from p2pchat.service.head_start import (
    MAILBOX_RECONNECT_WITHIN,
    OpenedInvite,
    connect_mailbox,
    open_invite,
)
from p2pchat.service.link_choice import PathPlan, bind_on, over_webrtc
from p2pchat.service.meeting import meet_contact
from p2pchat.service.peer_check import check_peer
from p2pchat.service.pump import FramePump
from p2pchat.service.rendezvous import (
    BindingHandshake,
    announce_failure,
    exchange_bind,
    until_verified,
)
from p2pchat.service.service_base import ServiceBase

if TYPE_CHECKING:
    from p2pchat.net.rtc import RtcLink
    from p2pchat.store.contact_record import Contact

log = logging.getLogger("p2pchat.service.chat_service")


class PairingFlow(ServiceBase):
    """From idle to paired: the pairing half of ChatService."""

    async def invite(self, opened: OpenedInvite | None = None) -> str:
        """Allocate a nameplate, make a code, and pair in the background.

        ``opened``: those steps were already run before this service existed (``head_start``,
        as `p2pchat send` does to show its code sooner); the pairing goes on from there.
        """
        self._require_state("idle")
        self.state = "pairing"
        mailbox = await self._connect_mailbox(opened.mailbox if opened else None)
        opened = opened or await open_invite(mailbox)
        code = opened.code
        self._emit(ev.CodeReady(code=code, expires_in=self.config.code_validity))
        self._start_pairing(code, mailbox, timeout=self.config.code_validity)
        # Once our caller has shown the code (it does before its next await), load
        # aiortc while the other person types it; not when a direct TCP path may make
        # it useless (its 0.2 s of CPU would compete with the pairing and the photo).
        if not self._direct_enabled():
            asyncio.get_running_loop().call_soon(preload_rtc)
        return code

    async def join(self, code: str) -> None:
        """Join with a code read aloud by the other person; pairs in the background."""
        self._require_state("idle")
        parsed = codes.parse(code)  # InvalidCode before touching the network
        if not self._direct_enabled():
            preload_rtc()  # aiortc loads while the mailbox and the PAKE run
        self._joined_code = failed_codes.refuse_if_failed(parsed)
        self.state = "pairing"
        mailbox = await self._connect_mailbox()
        await mailbox.open(await mailbox.claim(parsed.nameplate))
        mark("mailbox-opened")
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

    async def _connect_mailbox(self, connected: MailboxClient | None = None) -> MailboxClient:
        """A mailbox connection for this pairing: a new one, or ``connected`` taken over."""
        # Refuse an unusable ICE setup (relay-only without TURN, ...) before anyone waits.
        check_ice(self.config.ice)
        self._incoming_images.warm_spare()  # for the first photo the peer sends
        self._emit(ev.ConnectionChanged(state="pairing"))
        # MAILBOX_RECONNECT_WITHIN is read here, at each connection: a test may shorten it.
        self._mailbox = connected or await connect_mailbox(self.config, MAILBOX_RECONNECT_WITHIN)
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
        ``core.handshake.reconnect`` with the current reconnect key and, when one is kept,
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
                self._emit,
            )
            self._mailbox = None
            await self._bind_and_start(link, handshake)

        self._spawn(self._guard_pairing(steps(), self.config.reconnect_wait))

    def _start_pairing(self, code: str, mailbox: MailboxClient, timeout: float) -> None:
        self._spawn(self._pair(code, mailbox, timeout))

    async def reconnect_contact(self, contact: Contact) -> None:
        """Meet a pinned contact again at its meeting point (``ContactError`` when locked)."""
        # Here, not at the top: a pairing under a code never loads the contact book.
        from p2pchat.service.contact_guard import unlocked

        unlocked(contact)
        await self.reconnect(
            contact.reconnect_psk,
            contact.identity_key,
            previous_psk=contact.previous_psk or None,
            meeting_key=contact.meeting_key or None,
        )

    def capabilities(self) -> Capabilities:
        """What this side announces to its peer (a copy-paste pairing seals it itself)."""
        return self._capabilities()

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
                TransportError(
                    f"Pairing timed out: {reason}. Make a new invite and try again."
                ).because("pairing_timeout_joined" if peer_seen else "pairing_timeout_alone")
            )
        except P2PChatError as error:
            await self._pairing_failed(error)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an edge raising something unexpected is still a failure
            log.exception("pairing crashed")
            await self._pairing_failed(TransportError(f"Pairing failed: {error}"))

    def _direct_enabled(self) -> bool:
        """A direct TCP path on a shared network; never when the user hides their address."""
        return self.config.direct_tcp and not self.config.ice.relay_only

    async def _pair_steps(
        self, code: str, mailbox: MailboxClient, handshake: Pairing | Reconnect | None = None
    ) -> None:
        direct = DirectSide(self._direct_enabled(), self.config.loopback, mailbox.side)
        try:
            pairing = handshake or Pairing(
                code,
                mailbox.side,
                self.identity,
                self._capabilities(),
                appid=self.config.appid,
                direct_hints=direct.hints_at_start,
            )
            hook = partial(direct.before_pake, pairing) if isinstance(pairing, Pairing) else None
            await until_verified(mailbox, pairing, hook)

            def crossed() -> None:
                self._mailbox = None  # closed "happy" once the SDPs crossed

            webrtc = partial(
                over_webrtc, mailbox, pairing, self._open_link, self._path_plan(), crossed
            )
            link, first, is_direct = await direct.choose_link(pairing, webrtc)
        finally:
            await direct.close()
        if is_direct and self._mailbox is not None:  # no SDP will cross: done with it
            self._mailbox = None
            self._spawn(_leave_happy(mailbox))  # in the background: not on the way
        self._link = link
        keys, early = await bind_on(link, first, pairing, CONNECT_TIMEOUT)
        await self._check_peer(link, keys)
        self._start_session(link, keys, early)

    def _path_plan(self) -> PathPlan:
        return PathPlan(
            relay=self.config.ice.transit_relay,
            transit_after=self.config.transit_after,
            timeout=CONNECT_TIMEOUT,
            # Relay-only gathers no server-reflexive address, whatever STUN says.
            stun_configured=bool(self.config.ice.stun_urls) and not self.config.ice.relay_only,
        )

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
                else TransportError(
                    "The peer did not connect in time: paste the blobs again."
                ).because("manual_timeout")
            )
            self.state = "failed"
            self._pair_error = failure
            with contextlib.suppress(Exception):
                await link.close()
            self._emit(ev.failure(failure))
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
        await check_peer(self.config, link, keys)

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
        if self.config.warm_send_worker:
            self._send_spare.warm()  # for the first photo the user sends
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
        self._emit(ev.failure(error))
        self._paired.set()
        self._closed.set()


async def _leave_happy(mailbox: MailboxClient) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(mailbox.close("happy"), MAILBOX_TIMEOUT)
