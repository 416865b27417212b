"""ChatService: the one async facade the TUI, headless mode and the CLI share.

It wires the sans-I/O core (codes, pairing, session) to the edges (mailbox
client, WebRTC link) and the image pipeline, and turns everything that happens
into ``p2pchat.service.events`` dataclasses on one queue. Front ends never touch the
network or the core directly: they call these methods, read events, and read
``conversation`` (every message with its state, kept once by ``ledger``).

Lifecycle: ``invite()`` or ``join(code)`` starts pairing in a background task
(``pairing_flow``); ``wait_paired()`` returns once the bind over the data channel
has verified; then ``send_text`` / ``send_image`` (here); ``close()`` says bye,
drains and closes (``closing``). The fields live in ``service_base``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os

from p2pchat.core import session as core_session
from p2pchat.core.errors import ImageRejected, LocalProtocolError, P2PChatError
from p2pchat.core.keys import Capabilities
from p2pchat.core.labels import safe_label
from p2pchat.media.policy import ContentFixes, SanitizedImage, SanitizePolicy
from p2pchat.media.worker import sanitize_async
from p2pchat.media.worker_protocol import refusal
from p2pchat.service import events as ev
from p2pchat.service import photos
from p2pchat.service.closing import Closing
from p2pchat.service.head_start import sending_policy
from p2pchat.service.pairing_flow import PairingFlow
from p2pchat.service.worker_spare import Spare, worker_of


class ChatService(PairingFlow, Closing):
    """One conversation with one peer, from invite or code to close."""

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
        self._ledger.sent_text(message_id, text)
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
        policy = sending_policy(self.config, original_size, fixes=fixes, max_side=max_side)
        job = asyncio.ensure_future(_clean_own(data, policy, self._send_spare.take()))
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
            if self.config.warm_send_worker and not self._closed.is_set():
                self._send_spare.warm()  # the next photo's, once this one's worker is gone

    def expect_photo(self) -> None:
        """A photo may come soon (a file picker or send dialog opened): start the spare
        sending worker now if none waits (``service/worker_spare.py``)."""
        if not self._closed.is_set():
            self._send_spare.warm()

    async def prepare_photo(
        self,
        path: str | os.PathLike[str],
        original_size: bool = False,
        *,
        fixes: ContentFixes | None = None,
        max_side: int | None = None,
    ) -> SanitizedImage:
        """``prepare_image`` of the user's file at ``path``, read here (``service/photos``)."""
        return await photos.prepare_photo(self, path, original_size, fixes=fixes, max_side=max_side)

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
        self._ledger.sent_image(
            message_id,
            mime=prepared.mime,
            width=prepared.width,
            height=prepared.height,
            size=len(prepared.data),
            view_once=view_once,
            view_seconds=view_seconds,
        )
        self._output_ready.set()
        return message_id

    async def cancel_transfer(self, message_id: str) -> None:
        session = self._require_session()
        session.cancel_image(message_id)
        self._ledger.cancelled_by_us(message_id)
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
        self._ledger.timer_set(seconds, by_peer=False)
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
        self._ledger.viewed(message_id)
        self._output_ready.set()

    # ------------------------------------------------------------------ session events
    def _dispatch(self, session_events: list[core_session.SessionEvent]) -> None:
        for event in session_events:
            self._translate(event)

    def _translate(self, event: core_session.SessionEvent) -> None:
        """Each session event once: into the ledger (the model), then out as a service event."""
        s = core_session
        if isinstance(event, s.ImageCancelled) and event.direction == "in":
            self._incoming_images.cancelled(event.id)
        translated = self._ledger.apply(event)
        if translated is not None:
            self._emit(translated)
        if isinstance(event, s.ImageOffered):
            refused = self._incoming_images.offered(event.id)
            if refused is not None:
                self._refuse_incoming(event.id, refused)
        elif isinstance(event, s.ImageComplete):
            self._incoming_images.accept(event)
        elif isinstance(event, s.TypingReceived):
            self._emit(ev.PeerTyping())
        elif isinstance(event, s.TimerChanged):
            self._ledger.timer_set(event.seconds, by_peer=True)
        elif isinstance(event, s.PongReceived):
            self.rtt = event.rtt
            self._emit(ev.RoundTrip(event.rtt))
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


async def _clean_own(data: bytes, policy: SanitizePolicy, spare: Spare | None) -> SanitizedImage:
    """Our photo cleaned in the spare's worker when one was taken, else in a new one."""
    worker, place = await worker_of(spare)
    return await sanitize_async(data, policy, worker=worker, place=place)
