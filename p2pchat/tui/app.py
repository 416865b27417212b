"""The Textual application: screens, workers and the bridge to ``ChatService``.

``make_app()`` is the one factory the CLI and the tests use. The app owns the
service; every network call runs in a worker that posts a message from
``tui/messages.py`` back, and the handlers pass results down to the screens.
One event-pump worker per service turns ``service.events()`` into Textual
messages. Sends go through one outbox worker so messages keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from textual import on, work
from textual.app import App
from textual.binding import Binding

from p2pchat import events as ev
from p2pchat.core.errors import P2PChatError, TransportError, WrongCode
from p2pchat.i18n import set_language, t
from p2pchat.tui.messages import (
    CodeAllocated,
    PairingFailed,
    PairingSucceeded,
    SendFinished,
    ServiceClosed,
    ServiceEventPosted,
)
from p2pchat.tui.screens.chat import ChatScreen
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.invite import InviteScreen

StartMode = Literal["home", "invite", "join"]
ServiceFactory = Callable[[], Any]
# Called with the Paired event; True when this peer's key differs from the one pinned.
KeyChangeCheck = Callable[[ev.Paired], bool]
DEFAULT_CODE_LIFETIME = 600.0
# Closing must not hang the terminal if the network is gone.
CLOSE_TIMEOUT = 3.0


def describe_error(error: BaseException) -> str:
    """A sentence for the home screen: translated for the errors people meet most."""
    if isinstance(error, WrongCode):
        return t("errors.wrong_code")
    if isinstance(error, TransportError):
        return t("errors.transport", detail=str(error))
    return str(error) or error.__class__.__name__


class P2PChatApp(App[int]):
    """Two people, one conversation."""

    CSS_PATH = "app.tcss"
    TITLE = "p2pchat"
    BINDINGS = [
        Binding("ctrl+q", "quit", t("keys.quit"), id="app.quit", priority=True),
        Binding("f1", "help", t("keys.help"), id="app.help", show=False),
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
    ) -> None:
        super().__init__()
        self.service_factory = service_factory
        self.fingerprint = fingerprint
        self.start_mode = start
        self.start_code = code
        self.image_renderer = image_renderer
        self.my_label = my_label or t("chat.me")
        self.key_change_check = key_change_check
        self.start_dir = start_dir
        self.service: Any = None
        self.phase: Literal["home", "inviting", "joining", "chat", "closing"] = "home"
        self.verified_fingerprints: set[str] = set()
        self._outbox: asyncio.Queue[tuple[str, str, Any, bool]] = asyncio.Queue()

    # ----- screens ----------------------------------------------------------------
    def on_mount(self) -> None:
        home = HomeScreen(
            self.fingerprint,
            initial_code=self.start_code,
            focus_code=self.start_mode == "join",
        )
        self.push_screen(home)
        if self.start_mode == "invite":
            self.start_invite()
        elif self.start_mode == "join" and self.start_code:
            self.call_after_refresh(self._submit_start_code)

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

    @property
    def chat_screen(self) -> ChatScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.phase = "closing"
        self._close_and_exit()

    def _back_home(self, error: str) -> None:
        self.phase = "home"
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        home = self.home_screen
        if home is not None:
            home.busy = False
            home.show_error(error)

    # ----- pairing ----------------------------------------------------------------
    @on(HomeScreen.InviteRequested)
    def start_invite(self) -> None:
        if self.phase != "home" or not self._new_service():
            return
        self.phase = "inviting"
        self.push_screen(InviteScreen())
        self._invite(self.service)

    @on(HomeScreen.JoinRequested)
    def start_join(self, message: HomeScreen.JoinRequested) -> None:
        if self.phase != "home" or not self._new_service():
            return
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

    def _new_service(self) -> bool:
        if self.service_factory is None:
            if self.home_screen is not None:
                self.home_screen.show_error(t("errors.no_service"))
            return False
        try:
            self.service = self.service_factory()
        except P2PChatError as error:
            if self.home_screen is not None:
                self.home_screen.show_error(describe_error(error))
            return False
        self._pump_events(self.service)
        self._outbox = asyncio.Queue()
        self._send_outbox(self.service, self._outbox)
        return True

    @work(group="pairing", exit_on_error=False)
    async def _invite(self, service: Any) -> None:
        try:
            code = await service.invite()
            self.post_message(CodeAllocated(service, code))
            paired = await service.wait_paired()
        except P2PChatError as error:
            self.post_message(PairingFailed(service, describe_error(error)))
            return
        self.post_message(PairingSucceeded(service, paired))

    @work(group="pairing", exit_on_error=False)
    async def _join(self, service: Any, code: str) -> None:
        try:
            await service.join(code)
            paired = await service.wait_paired()
        except P2PChatError as error:
            self.post_message(PairingFailed(service, describe_error(error)))
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
        if message.service is not self.service or self.phase not in ("inviting", "joining"):
            return
        paired = message.paired
        self.phase = "chat"
        key_changed = bool(self.key_change_check and self.key_change_check(paired))
        chat = ChatScreen(
            paired=paired,
            my_label=self.my_label,
            prepare_image=self._prepare_image,
            renderer=self.image_renderer,
            verified=paired.peer_fingerprint in self.verified_fingerprints and not key_changed,
            key_changed=key_changed,
            start_dir=self.start_dir,
        )
        if isinstance(self.screen, InviteScreen):
            self.switch_screen(chat)
        else:
            self.push_screen(chat)

    @on(PairingFailed)
    def _pairing_failed(self, message: PairingFailed) -> None:
        if message.service is not self.service or self.phase not in ("inviting", "joining"):
            return
        self.service = None
        self._back_home(message.reason)
        self._close(message.service)

    # ----- service events ---------------------------------------------------------
    @work(group="events", exit_on_error=False)
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
        if self.phase in ("inviting", "joining"):
            if isinstance(event, ev.CodeReady) and isinstance(self.screen, InviteScreen):
                self.screen.show_code(event.code, event.expires_in)
            elif isinstance(event, ev.Paired):
                self.post_message(PairingSucceeded(message.service, event))
            elif isinstance(event, ev.Failed | ev.PeerLeft):
                reason = event.message if isinstance(event, ev.Failed) else event.reason
                self.post_message(PairingFailed(message.service, reason))
            return
        chat = self.chat_screen
        if chat is not None:
            chat.apply_event(event)

    # ----- sending ----------------------------------------------------------------
    @on(ChatScreen.SendText)
    def _queue_text(self, message: ChatScreen.SendText) -> None:
        self._outbox.put_nowait(("text", message.local_id, message.text, False))

    @on(ChatScreen.SendImage)
    def _queue_image(self, message: ChatScreen.SendImage) -> None:
        self._outbox.put_nowait(("image", message.local_id, message.prepared, message.view_once))

    @work(group="outbox", exit_on_error=False)
    async def _send_outbox(self, service: Any, outbox: asyncio.Queue[Any]) -> None:
        while True:
            kind, local_id, payload, view_once = await outbox.get()
            try:
                if kind == "text":
                    message_id = await service.send_text(payload)
                else:
                    message_id = await service.send_image(payload, view_once=view_once)
            except P2PChatError as error:
                self.post_message(SendFinished(local_id, None, describe_error(error)))
            else:
                self.post_message(SendFinished(local_id, str(message_id)))
            # Hold no reference to the photo while idle: a view-once copy must not linger.
            del payload

    @on(SendFinished)
    def _send_finished(self, message: SendFinished) -> None:
        chat = self.chat_screen
        if chat is not None:
            chat.message_sent(message.local_id, message.message_id, message.error)

    async def _prepare_image(self, data: bytes, original_size: bool) -> Any:
        if self.service is None:
            raise P2PChatError(t("errors.not_connected"))
        return await self.service.prepare_image(data, original_size=original_size)

    @on(ChatScreen.Typing)
    def _typing(self) -> None:
        if self.service is not None:
            self._send_typing(self.service)

    @work(group="typing", exclusive=True, exit_on_error=False)
    async def _send_typing(self, service: Any) -> None:
        # Only a hint: if it cannot be sent, nothing is lost.
        with contextlib.suppress(P2PChatError):
            await service.send_typing()

    @on(ChatScreen.CancelTransfer)
    def _cancel_transfer(self, message: ChatScreen.CancelTransfer) -> None:
        if self.service is not None:
            self._cancel(self.service, message.message_id)

    @work(group="cancel", exit_on_error=False)
    async def _cancel(self, service: Any, message_id: str) -> None:
        try:
            await service.cancel_transfer(message_id)
        except P2PChatError as error:
            self.notify(describe_error(error), severity="error")

    @on(ChatScreen.MarkVerified)
    def _mark_verified(self) -> None:
        chat = self.chat_screen
        if chat is not None:
            self.verified_fingerprints.add(chat.paired.peer_fingerprint)

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

    @work(group="close", exit_on_error=False)
    async def _close(self, service: Any) -> None:
        # The session is over either way; a slow or broken close must not hang the UI.
        with contextlib.suppress(P2PChatError, TimeoutError, OSError):
            await asyncio.wait_for(service.close(), CLOSE_TIMEOUT)
        self.post_message(ServiceClosed(service))

    @work(group="close", exit_on_error=False)
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
) -> P2PChatApp:
    """The app, ready to ``run()`` (CLI) or ``run_test()`` (tests).

    ``config`` is a ``ServiceConfig``; each pairing attempt gets a fresh
    ``ChatService(config)`` unless ``service_factory`` is given. Set the language
    before importing this module when binding labels must follow it too.
    """
    if language is not None:
        set_language(language)
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
        my_label=my_label,
        key_change_check=key_change_check,
        start_dir=start_dir,
    )
