"""The Textual application: screens, workers and the bridge to ``ChatService``.

``make_app()`` is the one factory the CLI and the tests use. The app owns the
service; every network call runs in a worker that posts a message from
``tui/messages.py`` back, and the handlers pass results down to the screens.
One event-pump worker per service turns ``service.events()`` into Textual
messages. What the chat screen asks for (sends, through one outbox worker so
messages keep their order; typing, cancels, the timer) is handled by the base
class ``chat_requests.ChatRequests``; error wording is in ``error_text``.

With a contact book (``ContactBook``) every pairing gets its own
``ContactGuard``: it pins the peer on first pairing, insists on the pinned key
when reconnecting from the home screen's contact list, and refuses blocked
contacts; a changed key opens ``KeyChangedScreen`` instead of the chat, and
re-pairing after it is only ever the user's deliberate choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from p2pchat import contacts_flow
from p2pchat.contacts_flow import ContactGuard, as_key_changed
from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import set_language, t
from p2pchat.service import events as ev
from p2pchat.store.contacts import Contact, ContactBook, ContactError, KeyChanged
from p2pchat.tui.chat_requests import ChatRequests
from p2pchat.tui.error_text import describe_error, is_key_change
from p2pchat.tui.messages import (
    CodeAllocated,
    PairingFailed,
    PairingSucceeded,
    ServiceClosed,
    ServiceEventPosted,
)
from p2pchat.tui.name_prompt import NamePrompt, name_prompt_for, save_display_name
from p2pchat.tui.palette import app_commands, kept_system_commands, open_palette
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.key_changed import KeyChangedScreen, RePair
from p2pchat.tui.screens.reconnect import ReconnectScreen
from p2pchat.tui.screens.seal import offer_sealing
from p2pchat.tui.stun_notice import StunNotice, stun_notice_for

log = logging.getLogger(__name__)
StartMode = Literal["home", "invite", "join"]
ServiceFactory = Callable[[], Any]
# Called with the Paired event; True when this peer's key differs from the one pinned.
KeyChangeCheck = Callable[[ev.Paired], bool]
DEFAULT_CODE_LIFETIME = 600.0
# How often "last seen" is written while a conversation goes on (a disk write each time).
LAST_SEEN_EVERY = 60.0
# Closing must not hang the terminal if the network is gone.
CLOSE_TIMEOUT = 3.0


class P2PChatApp(ChatRequests):
    """Two people, one conversation."""

    CSS_PATH = "app.tcss"
    TITLE = "p2pchat"
    BINDINGS = [
        Binding("ctrl+q", "quit", t("keys.quit"), id="app.quit", priority=True),
        Binding("f1", "help", t("keys.help"), id="app.help", show=False),
        # Textual's own palette binding is labelled "palette" in English whatever the language.
        Binding(
            "ctrl+p",
            "command_palette",
            t("palette.key.label"),
            show=False,
            priority=True,
            tooltip=t("help.palette"),
            id="app.palette",
        ),
    ]

    def __init__(
        self,
        *,
        service_factory: ServiceFactory | None,
        fingerprint: str,
        start: StartMode = "home",
        code: str = "",
        image_renderer: str = "auto",
        my_label: str = "",
        key_change_check: KeyChangeCheck | None = None,
        start_dir: Path | None = None,
        config: Any = None,
        contact_book: ContactBook | None = None,
        clock: Callable[[], float] = time.monotonic,
        view_seconds: float = 10.0,
        seal_offer: Callable[[str], None] | None = None,
        stun_notice: StunNotice | None = None,
        name_prompt: NamePrompt | None = None,
    ) -> None:
        super().__init__()
        self.name_prompt = name_prompt
        self._last_seen_saved = float("-inf")
        # First run with an unsealed new identity: offer a passphrase (skippable).
        self.seal_offer = seal_offer
        self.stun_notice = stun_notice
        self.service_factory = service_factory
        # A ServiceConfig: lets each pairing get its own ContactGuard as peer_check.
        self.config = config
        self.contact_book = contact_book
        # The chat's countdown clock (disappearing messages): monotonic, so that setting
        # the system clock changes no deadline; tests speed it up.
        self.clock = clock
        self.view_seconds = view_seconds
        self.fingerprint = fingerprint
        self.start_mode = start
        self.start_code = code
        self.image_renderer = image_renderer
        self.my_label = my_label or t("chat.me")
        self.key_change_check = key_change_check
        self.start_dir = start_dir
        self.service: Any = None
        self.phase: Literal["home", "inviting", "joining", "reconnecting", "chat", "closing"] = (
            "home"
        )
        self.guard: ContactGuard | None = None  # the running pairing's peer_check
        self.petname_sought = ""  # whom a reconnect or re-pair is meant to reach
        self.verified_fingerprints: set[str] = set()
        self._outbox: asyncio.Queue[tuple[str, str, Any, bool]] = asyncio.Queue()

    # ----- screens ----------------------------------------------------------------
    def on_mount(self) -> None:
        home = HomeScreen(
            self.fingerprint,
            initial_code=self.start_code,
            focus_code=self.start_mode == "join",
            contacts=self._read_contacts(),
        )
        self.push_screen(home)
        if self.stun_notice is not None:
            # Asked before anything reaches the network, so the answer applies at once.
            self.push_screen(self.stun_notice.dialog(), self._stun_answered)
        else:
            self._start()

    def _start(self) -> None:
        if self.seal_offer is not None and self.start_mode == "home":
            offer_sealing(self, self.seal_offer)
        if self.name_prompt is not None and self.start_mode == "home":
            # On top of the sealing offer: the name is asked first, then the passphrase.
            self.push_screen(self.name_prompt.dialog(), self._name_answered)
        if self.start_mode == "invite":
            self.start_invite()
        elif self.start_mode == "join" and self.start_code:
            self.call_after_refresh(self._submit_start_code)

    def _stun_answered(self, turn_off: bool | None) -> None:
        if self.stun_notice is not None:
            self.stun_notice.answer(bool(turn_off))
            self.stun_notice = None
            if turn_off:
                self.notify(t("stun_notice.saved_off"))
        self._start()

    def _name_answered(self, name: str | None) -> None:
        prompt, self.name_prompt = self.name_prompt, None
        self.set_display_name(name, config=prompt.config if prompt is not None else self.config)

    def set_display_name(self, name: str | None, *, config: Any = None) -> str:
        """Save the name the other person sees; used from the next pairing on."""
        try:
            shown = save_display_name(config if config is not None else self.config, name)
        except P2PChatError as error:
            self.notify(str(error), severity="error", markup=False)
            return ""
        if shown:
            self.my_label = shown
            self.notify(t("name_prompt.saved", name=shown), markup=False)
        return shown

    def _submit_start_code(self) -> None:
        home = self.home_screen
        if home is not None:
            home._join()

    @property
    def home_screen(self) -> HomeScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                return screen
        return None

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        open_palette(self)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from app_commands(self, screen)
        yield from kept_system_commands(super().get_system_commands(screen))

    async def action_quit(self) -> None:
        self.phase = "closing"
        self._close_and_exit()

    def _back_home(self, error: str, status: str = "") -> None:
        self.phase = "home"
        self.guard = None
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        home = self.home_screen
        if home is not None:
            home.busy = False
            home.show_error(error)
            self._refresh_contacts()
            if status:
                home.show_status(status)

    # ----- contacts ---------------------------------------------------------------
    def _read_contacts(self) -> list[Contact] | None:
        """The book's contacts now (another process may have changed them), or None."""
        if self.contact_book is None:
            return None
        try:
            self.contact_book.reload()
        except ContactError as error:
            self.notify(str(error), severity="error", timeout=30, markup=False)
            return []
        return self.contact_book.contacts

    def _refresh_contacts(self) -> None:
        home = self.home_screen
        contacts = self._read_contacts()
        if home is not None and contacts is not None:
            home.set_contacts(contacts)

    def _guard(self, **kwargs: Any) -> ContactGuard | None:
        if self.contact_book is None:
            return None
        return ContactGuard(self.contact_book, **kwargs)

    @on(HomeScreen.ContactChange)
    def _change_contact(self, message: HomeScreen.ContactChange) -> None:
        book, home = self.contact_book, self.home_screen
        if book is None or home is None:
            return
        name = message.petname
        try:
            if message.action == "rename":
                changed = book.rename(name, message.new_petname)
                status = t("contacts.renamed", old=name, new=changed.petname)
            elif message.action == "block":
                book.block(name)
                status = t("contacts.blocked", name=name)
            elif message.action == "unblock":
                book.unblock(name)
                status = t("contacts.unblocked", name=name)
            elif message.action == "remove":
                book.remove(name)
                status = t("contacts.removed", name=name)
            else:
                return
        except ContactError as error:
            home.show_error(str(error))
            return
        home.show_error("")
        self._refresh_contacts()
        home.show_status(status)

    @on(HomeScreen.ReconnectRequested)
    def start_reconnect(self, message: HomeScreen.ReconnectRequested) -> None:
        home = self.home_screen
        if self.phase != "home" or self.contact_book is None or home is None:
            return
        self._read_contacts()
        contact = self.contact_book.get(message.petname)
        if contact is None:
            home.show_error(t("contacts.gone", name=message.petname))
            self._refresh_contacts()
            return
        if contact.blocked:
            # Refused here, before any network: a blocked contact is never met.
            home.show_error(t("contacts.refused_blocked", name=contact.petname))
            return
        guard = self._guard(expected=contact)
        if not self._new_service(guard):
            return
        self.phase = "reconnecting"
        self.petname_sought = contact.petname
        self.push_screen(ReconnectScreen(contact.petname))
        self._reconnect(self.service, contact)

    @work(group="pairing", exit_on_error=False, description="reconnect")
    async def _reconnect(self, service: Any, contact: Contact) -> None:
        try:
            await contacts_flow.reconnect(service, contact)
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
        if guard is None or not self._new_service(guard):
            return
        self.petname_sought = choice.petname
        if choice.mode == "invite":
            self.phase = "inviting"
            self.push_screen(InviteScreen())
            self._invite(self.service)
        else:
            self.phase = "joining"
            if self.home_screen is not None:
                self.home_screen.busy = True
            self._join(self.service, choice.code)

    # ----- pairing ----------------------------------------------------------------
    @on(HomeScreen.InviteRequested)
    def start_invite(self) -> None:
        if self.phase != "home" or not self._new_service(self._guard()):
            return
        self.petname_sought = ""
        self.phase = "inviting"
        self.push_screen(InviteScreen())
        self._invite(self.service)

    @on(HomeScreen.JoinRequested)
    def start_join(self, message: HomeScreen.JoinRequested) -> None:
        if self.phase != "home" or not self._new_service(self._guard()):
            return
        self.petname_sought = ""
        self.phase = "joining"
        if self.home_screen is not None:
            self.home_screen.busy = True
        self._join(self.service, message.code)

    @on(InviteScreen.Cancelled)
    def cancel_invite(self) -> None:
        service, self.service = self.service, None
        self._back_home("")
        if service is not None:
            self._close(service)

    def _new_service(self, guard: ContactGuard | None = None) -> bool:
        if self.service_factory is None:
            if self.home_screen is not None:
                self.home_screen.show_error(t("errors.no_service"))
            return False
        try:
            if guard is not None and self.config is not None:
                from p2pchat.service import ChatService

                # A guard per pairing: it remembers which contact this session is.
                self.service = ChatService(dataclasses.replace(self.config, peer_check=guard))
            else:
                self.service = self.service_factory()
        except P2PChatError as error:
            if self.home_screen is not None:
                self.home_screen.show_error(describe_error(error))
            return False
        self.guard = guard if self.config is not None else None
        self._pump_events(self.service)
        self._outbox = asyncio.Queue()
        self._send_outbox(self.service, self._outbox)
        return True

    @work(group="pairing", exit_on_error=False, description="invite")
    async def _invite(self, service: Any) -> None:
        try:
            code = await service.invite()
            self.post_message(CodeAllocated(service, code))
            paired = await service.wait_paired()
        except P2PChatError as error:
            self.post_message(PairingFailed(service, describe_error(error), error))
            return
        self.post_message(PairingSucceeded(service, paired))

    @work(group="pairing", exit_on_error=False, description="join")
    async def _join(self, service: Any, code: str) -> None:
        try:
            await service.join(code)
            paired = await service.wait_paired()
        except P2PChatError as error:
            self.post_message(PairingFailed(service, describe_error(error), error))
            return
        self.post_message(PairingSucceeded(service, paired))

    @on(CodeAllocated)
    def _code_allocated(self, message: CodeAllocated) -> None:
        if message.service is self.service and isinstance(self.screen, InviteScreen):
            screen = self.screen
            expires = None if screen.expires_at is not None else DEFAULT_CODE_LIFETIME
            screen.show_code(message.code, expires)

    @on(PairingSucceeded)
    def _paired(self, message: PairingSucceeded) -> None:
        pairing = ("inviting", "joining", "reconnecting")
        if message.service is not self.service or self.phase not in pairing:
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
        )
        if isinstance(self.screen, InviteScreen | ReconnectScreen):
            self.switch_screen(chat)
        else:
            self.push_screen(chat)

    @on(PairingFailed)
    def _pairing_failed(self, message: PairingFailed) -> None:
        pairing = ("inviting", "joining", "reconnecting")
        if message.service is not self.service or self.phase not in pairing:
            return
        self.service = None
        error = message.error
        if error is not None:
            # A reconnect's own identity check says it in other words: same warning.
            error = as_key_changed(error, self.petname_sought)
        if is_key_change(error) and self.contact_book is not None:
            assert isinstance(error, KeyChanged)
            self._back_home("")
            self._show_key_changed(error)
        else:
            reason = describe_error(error) if error is not None else message.reason
            self._back_home(reason)
        self._close(message.service)

    # ----- service events ---------------------------------------------------------
    @work(group="events", exit_on_error=False, description="pump events")
    async def _pump_events(self, service: Any) -> None:
        try:
            async for event in service.events():
                self.post_message(ServiceEventPosted(service, event))
                if isinstance(event, ev.Closed):
                    break
        except P2PChatError as error:
            self.post_message(ServiceEventPosted(service, ev.Failed(str(error), 1)))

    @on(ServiceEventPosted)
    def _service_event(self, message: ServiceEventPosted) -> None:
        if message.service is not self.service:
            return
        event = message.event
        if self.phase in ("inviting", "joining", "reconnecting"):
            if isinstance(event, ev.CodeReady) and isinstance(self.screen, InviteScreen):
                self.screen.show_code(event.code, event.expires_in)
            elif isinstance(event, ev.Paired):
                self.post_message(PairingSucceeded(message.service, event))
            elif isinstance(event, ev.PeerLeft):
                self.post_message(PairingFailed(message.service, event.reason))
            elif isinstance(event, ev.Notice):
                # Our own words (a moved meeting point), never the peer's.
                self.notify(event.message, severity="warning", markup=False)
            # A Failed is left to the pairing worker: wait_paired() raises the error
            # itself, and a changed key needs the exception, not its text.
            return
        chat = self.chat_screen
        if chat is not None:
            chat.apply_event(event)
            self._seen(chat, event)

    def _seen(self, chat: ChatScreen, event: ev.ServiceEvent) -> None:
        """Keep the contact's "last seen" current while you chat (not only at pairing)."""
        if chat.contact is None or self.contact_book is None:
            return
        if not isinstance(event, ev.TextReceived | ev.ImageReceived | ev.Delivered):
            return
        now = time.monotonic()
        if now - self._last_seen_saved < LAST_SEEN_EVERY:
            return
        self._last_seen_saved = now
        self._record_seen(self.contact_book, chat.contact.petname)

    @work(thread=True, group="last-seen", exit_on_error=False, description="last seen")
    def _record_seen(self, book: ContactBook, petname: str) -> None:
        # A locked, fsynced file write: off the event loop, like every other disk write.
        try:
            book.touch(petname)
        except ContactError as error:
            log.debug("could not record last seen: %s", error)

    @on(ChatScreen.BlockPeer)
    def _block_peer(self) -> None:
        chat = self.chat_screen
        if chat is None or chat.contact is None or self.contact_book is None:
            return
        petname = chat.contact.petname
        try:
            self.contact_book.block(petname)
        except ContactError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        service, self.service = self.service, None
        self._back_home("", status=t("contacts.blocked", name=petname))
        if service is not None:
            self._close(service)

    @on(ChatScreen.RenameContact)
    def _rename_from_chat(self, message: ChatScreen.RenameContact) -> None:
        chat, book = self.chat_screen, self.contact_book
        if chat is None or chat.contact is None or book is None:
            return
        try:
            changed = book.rename(chat.contact.petname, message.new_petname)
        except ContactError as error:
            self.notify(str(error), severity="error")
            return
        chat.contact_renamed(changed)

    @on(ChatScreen.BackHome)
    def _chat_over_back_home(self) -> None:
        service, self.service = self.service, None
        self._back_home("")
        if service is not None:
            self._close(service)

    @on(ChatScreen.Leave)
    def _leave(self) -> None:
        self.phase = "closing"
        self._close_and_exit()

    # ----- closing ----------------------------------------------------------------
    async def on_unmount(self) -> None:
        # However the app ends (Ctrl+C, a test leaving run_test), say bye and free the link.
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)

    @work(group="close", exit_on_error=False, description="close")
    async def _close(self, service: Any) -> None:
        # The session is over either way; a slow or broken close must not hang the UI.
        with contextlib.suppress(P2PChatError, TimeoutError, OSError):
            await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        self.post_message(ServiceClosed(service))

    @work(group="close", exit_on_error=False, description="close and exit")
    async def _close_and_exit(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(P2PChatError, TimeoutError, OSError):
                await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        self.exit(0)


def make_app(
    config: Any = None,
    *,
    service_factory: ServiceFactory | None = None,
    fingerprint: str = "",
    start: StartMode = "home",
    code: str = "",
    language: str | None = None,
    image_renderer: str = "auto",
    my_label: str = "",
    key_change_check: KeyChangeCheck | None = None,
    start_dir: Path | None = None,
    contact_book: ContactBook | None = None,
    settings: Any = None,
    clock: Callable[[], float] = time.monotonic,
    seal_offer: Callable[[str], None] | None = None,
) -> P2PChatApp:
    """The app, ready to ``run()`` (CLI) or ``run_test()`` (tests).

    ``config`` is a ``ServiceConfig``; each pairing attempt gets a fresh
    ``ChatService(config)`` unless ``service_factory`` is given. The contact book
    is ``contact_book``, else the one of a ``ContactGuard`` in ``config.peer_check``;
    without one the home screen has no contacts. ``settings`` (``store.settings``)
    gives the language when ``language`` is None, the photo downscale
    (``max_long_edge``) and the view-once time (``view_seconds``). Set the
    language before importing this module when binding labels must follow it too.
    """
    if language is None and settings is not None:
        language = settings.language
    if language is not None:
        set_language(language)
    view_seconds = 10.0
    if settings is not None:
        view_seconds = float(settings.view_seconds)
        display_name = str(getattr(settings, "display_name", "") or "")
        if config is not None and not config.label and display_name:
            config.label = display_name  # the name the other person sees
        if config is not None:
            policy = dataclasses.replace(config.image_policy, max_long_edge=settings.max_long_edge)
            config = dataclasses.replace(config, image_policy=policy)
    if contact_book is None and config is not None:
        guard = getattr(config, "peer_check", None)
        if isinstance(guard, ContactGuard):
            contact_book = guard.book
    if service_factory is None and config is not None:
        from p2pchat.service import ChatService

        def service_factory() -> Any:
            return ChatService(config)

    return P2PChatApp(
        service_factory=service_factory,
        fingerprint=fingerprint or t("home.no_fingerprint"),
        start=start,
        code=code,
        image_renderer=image_renderer,
        # The name the other person sees is also how our own lines are labelled.
        my_label=my_label or (getattr(config, "label", "") if config is not None else ""),
        key_change_check=key_change_check,
        start_dir=start_dir,
        config=config,
        contact_book=contact_book,
        clock=clock,
        view_seconds=view_seconds,
        seal_offer=seal_offer,
        stun_notice=stun_notice_for(settings, config),
        name_prompt=name_prompt_for(settings, config),
    )
