"""The Textual application: screens, startup questions, and ``make_app``.

``make_app()`` is the one factory the CLI and the tests use. The app holds a
typed ``ChatSession`` (``service/api.py``) per pairing attempt and the user's
``Contacts``; it reaches nothing below the service. Its behaviour is built up
in layers, one module each: ``chat_requests.ChatRequests`` (what the chat
screen asks for), ``service_pump.ServicePump`` (session events to the screens,
closing), ``contact_actions.ContactActions`` (the home screen's contact list
and the chat's contact requests) and ``pairing_flow.PairingFlow`` (invite,
join, reconnect, re-pair). Error wording is in ``error_text``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from textual import on
from textual.app import SystemCommand
from textual.screen import Screen

from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import set_language, t
from p2pchat.service import ServiceConfig, open_session
from p2pchat.service.api import ChatSession, SessionFactory
from p2pchat.service.contacts import ContactGuard, Contacts
from p2pchat.service.profile import Settings
from p2pchat.tui.app_shell import Phase
from p2pchat.tui.error_text import describe_error
from p2pchat.tui.name_prompt import NamePrompt, name_prompt_for, save_display_name
from p2pchat.tui.pairing_flow import KeyChangeCheck, PairingFlow
from p2pchat.tui.palette import app_commands, kept_system_commands, open_palette
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.seal import offer_sealing
from p2pchat.tui.stun_notice import StunNotice, stun_notice_for

StartMode = Literal["home", "invite", "join"]
ServiceFactory = SessionFactory  # the name make_app's callers know


class P2PChatApp(PairingFlow):
    """Two people, one conversation."""

    def __init__(
        self,
        *,
        service_factory: SessionFactory | None,
        fingerprint: str,
        start: StartMode = "home",
        code: str = "",
        image_renderer: str = "auto",
        my_label: str = "",
        key_change_check: KeyChangeCheck | None = None,
        start_dir: Path | None = None,
        config: ServiceConfig | None = None,
        contacts: Contacts | None = None,
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
        self.contacts = contacts
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
        self.service: ChatSession | None = None
        self.phase: Phase = "home"
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
            self.notify(describe_error(error), severity="error", markup=False)
            return ""
        if shown:
            self.my_label = shown
            self.notify(t("name_prompt.saved", name=shown), markup=False)
        return shown

    def _submit_start_code(self) -> None:
        home = self.home_screen
        if home is not None:
            home._join()

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


def make_app(
    config: ServiceConfig | None = None,
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
    contacts: Contacts | None = None,
    settings: Settings | None = None,
    clock: Callable[[], float] = time.monotonic,
    seal_offer: Callable[[str], None] | None = None,
) -> P2PChatApp:
    """The app, ready to ``run()`` (CLI) or ``run_test()`` (tests).

    ``config`` is a ``ServiceConfig``; each pairing attempt gets a fresh
    session (``open_session(config)``) unless ``service_factory`` is given. The
    contacts are ``contacts``, else the book of a ``ContactGuard`` in
    ``config.peer_check``; without one the home screen has no contacts.
    ``settings`` (``service.profile``)
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
    if config is not None:
        # The conversation's countdowns run on the app's clock (tests speed it up).
        config = dataclasses.replace(config, timer_clock=clock)
    if contacts is None and config is not None and isinstance(config.peer_check, ContactGuard):
        contacts = Contacts(config.peer_check.book)
    if service_factory is None and config is not None:
        session_config = config

        def service_factory() -> ChatSession:
            return open_session(session_config)

    return P2PChatApp(
        service_factory=service_factory,
        fingerprint=fingerprint or t("home.no_fingerprint"),
        start=start,
        code=code,
        image_renderer=image_renderer,
        # The name the other person sees is also how our own lines are labelled.
        my_label=my_label or (config.label if config is not None else ""),
        key_change_check=key_change_check,
        start_dir=start_dir,
        config=config,
        contacts=contacts,
        clock=clock,
        view_seconds=view_seconds,
        seal_offer=seal_offer,
        stun_notice=stun_notice_for(settings, config),
        name_prompt=name_prompt_for(settings, config),
    )
