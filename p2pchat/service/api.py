"""The typed seam between the front ends (TUI, headless, CLI) and the service.

A front end holds a ``ChatSession`` (one conversation; ``ChatService`` is the
implementation, built from a ``ServiceConfig``) and, for what outlives a
conversation, the app-level facades:

- ``service.contacts.Contacts``: list, rename, block/unblock, verify, forget,
  and a ``ContactGuard`` per pairing; the store's contact types re-exported.
- ``service.profile``: the settings a front end reads or changes (display
  name, language, notices).
- ``service.photos``: the user's photo file read once, with its size limit
  (``ChatSession.prepare_photo`` uses it), and received photos saved to a folder.
- ``service.export``: a conversation written out as evidence, on request.

Front ends import these and ``service.events`` (what a session reports);
never ``net/`` or ``store/`` (see the import contracts in ``pyproject.toml``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Protocol

from p2pchat.core.keys import Capabilities
from p2pchat.core.message import ConversationView
from p2pchat.media.policy import ContentFixes, SanitizedImage
from p2pchat.media.vault import Vault
from p2pchat.service import events as ev
from p2pchat.service.config import State

if TYPE_CHECKING:
    # The contact book is not loaded by a one-shot pairing (`p2pchat receive`).
    from p2pchat.service.head_start import OpenedInvite
    from p2pchat.store.contact_record import Contact


class ChatSession(Protocol):
    """One conversation with one peer, from pairing to close; events tell what happens."""

    @property
    def state(self) -> State: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def safety_number(self) -> str | None: ...
    @property
    def peer_capabilities(self) -> Capabilities | None: ...
    @property
    def connection_kind(self) -> ev.ConnectionKind: ...
    @property
    def rtt(self) -> float | None: ...
    @property
    def undelivered(self) -> int: ...
    @property
    def outgoing_image_bytes(self) -> int: ...
    @property
    def vault(self) -> Vault: ...
    @property
    def conversation(self) -> ConversationView:
        """Every message with its state, kept once by the service (read-only)."""
        ...

    # ----- pairing: exactly one of these, then wait_paired()
    async def invite(self, opened: OpenedInvite | None = None) -> str:
        """Allocate a code (returned at once; pairing goes on in the background).

        ``opened``: a code already allocated by ``head_start.invite_ahead`` (`p2pchat send`
        shows it before the service stack is loaded); this session takes it over.
        """
        ...

    async def join(self, code: str) -> None: ...

    async def reconnect_contact(self, contact: Contact) -> None:
        """Meet a pinned contact again at its meeting point, without a code."""
        ...

    async def wait_paired(self, timeout: float | None = None) -> ev.Paired: ...

    # ----- what happens: every service event, once, in order
    async def next_event(self) -> ev.ServiceEvent: ...
    def events(self) -> AsyncIterator[ev.ServiceEvent]: ...

    # ----- sending
    async def send_text(self, text: str) -> str: ...

    async def prepare_photo(
        self,
        path: str | os.PathLike[str],
        original_size: bool = False,
        *,
        fixes: ContentFixes | None = None,
        max_side: int | None = None,
    ) -> SanitizedImage:
        """Read the user's file (limits checked first) and strip it in an isolated worker."""
        ...

    async def prepare_image(
        self,
        data: bytes,
        original_size: bool = False,
        *,
        fixes: ContentFixes | None = None,
        max_side: int | None = None,
    ) -> SanitizedImage: ...

    def expect_photo(self) -> None:
        """A photo may come soon: have a warm sending worker ready for it."""
        ...

    async def send_image(
        self, prepared: SanitizedImage, view_once: bool = False, view_seconds: float = 10.0
    ) -> str: ...

    async def cancel_transfer(self, message_id: str) -> None: ...
    async def send_typing(self) -> None: ...
    async def set_timer(self, seconds: int) -> None: ...
    async def mark_opened(self, message_id: str) -> None: ...

    # ----- receiving, for front ends that keep what arrives (confirm_images/texts)
    def acknowledge(self, message_id: str) -> None: ...
    def refuse_image(self, message_id: str) -> None: ...

    # ----- the end
    async def wait_delivered(self, timeout: float | None = None) -> None: ...
    async def close(self) -> int:
        """Wait for delivery (bounded), say bye; returns how many sent items were not confirmed."""
        ...


#: How a front end gets a fresh session for each pairing attempt.
SessionFactory = Callable[[], ChatSession]

__all__ = ["ChatSession", "SessionFactory"]
