"""How the app pairs: invite, join, reconnect to a contact, re-pair after a changed key.

Every attempt gets a fresh ``ChatSession`` (and, with contacts, its own
``ContactGuard`` as ``peer_check``: it pins the peer on first pairing, insists
on the pinned key when reconnecting, and refuses blocked contacts). Each
network call runs in a worker that posts a message from ``tui/messages.py``
back; a changed key opens ``KeyChangedScreen`` instead of the chat, and
re-pairing after it is only ever the user's deliberate choice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual import on, work

from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import t
from p2pchat.service import ServiceConfig, open_session
from p2pchat.service import events as ev
from p2pchat.service.api import ChatSession, SessionFactory
from p2pchat.service.contacts import (
    Contact,
    ContactError,
    ContactGuard,
    KeyChanged,
    as_key_changed,
)
from p2pchat.tui.app_shell import PAIRING_PHASES
from p2pchat.tui.contact_actions import ContactActions
from p2pchat.tui.error_text import describe_error, is_key_change
from p2pchat.tui.messages import CodeAllocated, PairingFailed, PairingSucceeded
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.key_changed import KeyChangedScreen, RePair
from p2pchat.tui.screens.reconnect import ReconnectScreen

# Called with the Paired event; True when this peer's key differs from the one pinned.
KeyChangeCheck = Callable[[ev.Paired], bool]
DEFAULT_CODE_LIFETIME = 600.0


class PairingFlow(ContactActions):
    """Starting, following and ending pairing attempts; ``P2PChatApp`` adds the rest."""

    service_factory: SessionFactory | None
    config: ServiceConfig | None
    key_change_check: KeyChangeCheck | None
    petname_sought: str
    my_label: str
    image_renderer: str
    start_dir: Path | None
    clock: Callable[[], float]

    def _guard(self, **kwargs: Any) -> ContactGuard | None:
        if self.contacts is None:
            return None
        return self.contacts.guard(**kwargs)

    @on(HomeScreen.ReconnectRequested)
    def start_reconnect(self, message: HomeScreen.ReconnectRequested) -> None:
        home = self.home_screen
        if self.phase != "home" or self.contacts is None or home is None:
            return
        try:
            contact = self.contacts.get(message.petname)
        except ContactError as error:
            home.show_error(describe_error(error))
            return
        if contact is None:
            home.show_error(t("contacts.gone", name=message.petname))
            self._refresh_contacts()
            return
        if contact.blocked:
            # Refused here, before any network: a blocked contact is never met.
            home.show_error(t("contacts.refused_blocked", name=contact.petname))
            return
        service = self._new_service(self._guard(expected=contact))
        if service is None:
            return
        self.phase = "reconnecting"
        self.petname_sought = contact.petname
        self.push_screen(ReconnectScreen(contact.petname))
        self._reconnect(service, contact)

    @work(group="pairing", exit_on_error=False, description="reconnect")
    async def _reconnect(self, service: ChatSession, contact: Contact) -> None:
        await self._until_paired(service, service.reconnect_contact(contact))

    async def _until_paired(self, service: ChatSession, start: Awaitable[object]) -> None:
        """Start pairing with ``start``, wait for the outcome, post it ("messages up")."""
        try:
            await start
            paired = await service.wait_paired()
        except P2PChatError as error:
            self.post_message(PairingFailed(service, describe_error(error), error))
            return
        self.post_message(PairingSucceeded(service, paired))

    @on(ReconnectScreen.Cancelled)
    def cancel_reconnect(self) -> None:
        self.cancel_invite()

    def _show_key_changed(self, error: KeyChanged) -> None:
        def chosen(choice: RePair | None) -> None:
            if choice is not None:
                self.start_repair(choice)

        self.push_screen(KeyChangedScreen(error), chosen)

    def start_repair(self, choice: RePair) -> None:
        """Pair again with a new code, deliberately accepting the contact's new key."""
        if self.phase != "home":
            return
        guard = self._guard(petname=choice.petname, replace_key=True)
        service = self._new_service(guard) if guard is not None else None
        if service is None:
            return
        self.petname_sought = choice.petname
        if choice.mode == "invite":
            self._begin_invite(service)
        else:
            self._begin_join(service, choice.code)

    def _begin_invite(self, service: ChatSession) -> None:
        self.phase = "inviting"
        self.push_screen(InviteScreen())
        self._invite(service)

    def _begin_join(self, service: ChatSession, code: str) -> None:
        self.phase = "joining"
        if self.home_screen is not None:
            self.home_screen.busy = True
        self._join(service, code)

    @on(HomeScreen.InviteRequested)
    def start_invite(self) -> None:
        if self.phase != "home":
            return
        service = self._new_service(self._guard())
        if service is None:
            return
        self.petname_sought = ""
        self._begin_invite(service)

    @on(HomeScreen.JoinRequested)
    def start_join(self, message: HomeScreen.JoinRequested) -> None:
        if self.phase != "home":
            return
        service = self._new_service(self._guard())
        if service is None:
            return
        self.petname_sought = ""
        self._begin_join(service, message.code)

    @on(InviteScreen.Cancelled)
    def cancel_invite(self) -> None:
        service, self.service = self.service, None
        self._back_home("")
        if service is not None:
            self._close(service)

    def _new_service(self, guard: ContactGuard | None = None) -> ChatSession | None:
        """A fresh session for one pairing attempt (started pumping), or None."""
        if self.service_factory is None:
            if self.home_screen is not None:
                self.home_screen.show_error(t("errors.no_service"))
            return None
        try:
            if guard is not None and self.config is not None:
                # A guard per pairing: it remembers which contact this session is.
                service = open_session(dataclasses.replace(self.config, peer_check=guard))
            else:
                service = self.service_factory()
        except P2PChatError as error:
            if self.home_screen is not None:
                self.home_screen.show_error(describe_error(error))
            return None
        self.service = service
        self.guard = guard if self.config is not None else None
        self._pump_events(service)
        self._outbox = asyncio.Queue()
        self._send_outbox(service, self._outbox)
        return service

    @work(group="pairing", exit_on_error=False, description="invite")
    async def _invite(self, service: ChatSession) -> None:
        async def invite() -> None:
            self.post_message(CodeAllocated(service, await service.invite()))

        await self._until_paired(service, invite())

    @work(group="pairing", exit_on_error=False, description="join")
    async def _join(self, service: ChatSession, code: str) -> None:
        await self._until_paired(service, service.join(code))

    @on(CodeAllocated)
    def _code_allocated(self, message: CodeAllocated) -> None:
        if message.service is self.service and isinstance(self.screen, InviteScreen):
            screen = self.screen
            expires = None if screen.expires_at is not None else DEFAULT_CODE_LIFETIME
            screen.show_code(message.code, expires)

    @on(PairingSucceeded)
    def _paired(self, message: PairingSucceeded) -> None:
        if message.service is not self.service or self.phase not in PAIRING_PHASES:
            return
        paired = message.paired
        self.phase = "chat"
        contact = self.guard.contact if self.guard is not None else None
        key_changed = bool(self.key_change_check and self.key_change_check(paired))
        verified = paired.peer_fingerprint in self.verified_fingerprints
        if contact is not None:
            verified = contact.verified
        chat = ChatScreen(
            paired=paired,
            my_label=self.my_label,
            prepare_image=self._prepare_image,
            renderer=self.image_renderer,
            verified=verified and not key_changed,
            key_changed=key_changed,
            start_dir=self.start_dir,
            contact=contact,
            clock=self.clock,
            view_seconds=self.view_seconds,
            conversation=message.service.conversation,
        )
        if isinstance(self.screen, InviteScreen | ReconnectScreen):
            self.switch_screen(chat)
        else:
            self.push_screen(chat)

    @on(PairingFailed)
    def _pairing_failed(self, message: PairingFailed) -> None:
        if message.service is not self.service or self.phase not in PAIRING_PHASES:
            return
        self.service = None
        error = message.error
        if error is not None:
            # A reconnect's own identity check says it in other words: same warning.
            error = as_key_changed(error, self.petname_sought)
        if is_key_change(error) and self.contacts is not None:
            assert isinstance(error, KeyChanged)
            self._back_home("")
            self._show_key_changed(error)
        else:
            reason = describe_error(error) if error is not None else message.reason
            self._back_home(reason)
        self._close(message.service)


__all__ = ["DEFAULT_CODE_LIFETIME", "KeyChangeCheck", "PairingFlow"]
