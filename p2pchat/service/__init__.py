"""ChatService and what front ends configure it with: the one way to the network.

The TUI, headless mode and the CLI import from here and nowhere below it; their
typed seam is ``api.ChatSession`` (``open_session``) with the app-level facades
``contacts.Contacts``, ``profile``, ``photos`` and ``export``; ``run_loop`` runs a
front end's coroutine on the best event loop (uvloop when installed).
``chat_service`` holds the facade (sends, session events to service events),
built from ``service_base`` (its fields), ``pairing_flow`` (invite, join,
reconnect, bind) and ``closing``; ``ledger`` the one record of every message
(``ChatService.conversation``); ``config`` the settings and timing defaults;
``rendezvous`` the pairing steps over the mailbox and the bind; ``pump`` the
send, receive and heartbeat loops; ``incoming_images`` the receive path for
images and the view-once vault; ``local_mailbox`` an embedded mailbox server;
``head_start`` what `p2pchat send` runs before its code is shown. The names
below are imported on first use, so importing one light module of the service
does not load the whole stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p2pchat.net.ice import IceSettings
    from p2pchat.net.loop import run as run_loop
    from p2pchat.service.api import ChatSession, SessionFactory
    from p2pchat.service.chat_service import ChatService
    from p2pchat.service.config import (
        CLOSE_GRACE,
        CODE_VALIDITY,
        CONNECT_TIMEOUT,
        HEARTBEAT_INTERVAL,
        HEARTBEAT_TIMEOUT,
        MAILBOX_TIMEOUT,
        MAX_WIRE_FRAME,
        RECONNECT_WAIT,
        ServiceConfig,
        State,
        default_mailbox_url,
    )
    from p2pchat.service.events import TimerChanged
    from p2pchat.service.link_choice import NoPathFound
    from p2pchat.service.local_mailbox import LocalMailbox
    from p2pchat.service.rendezvous import ERROR_PHASE, MAX_EARLY_FRAMES

# Loaded on first use (PEP 562), not with the package: `p2pchat send` imports a few light
# modules of the service to show its code, and the whole stack (the PAKE, the pairing, the
# session, the photo pipeline) only once the code is on the screen.
_EXPORTS = {
    "IceSettings": ("p2pchat.net.ice", "IceSettings"),
    "run_loop": ("p2pchat.net.loop", "run"),
    "ChatSession": ("p2pchat.service.api", "ChatSession"),
    "SessionFactory": ("p2pchat.service.api", "SessionFactory"),
    "ChatService": ("p2pchat.service.chat_service", "ChatService"),
    **{
        name: ("p2pchat.service.config", name)
        for name in (
            "CLOSE_GRACE",
            "CODE_VALIDITY",
            "CONNECT_TIMEOUT",
            "HEARTBEAT_INTERVAL",
            "HEARTBEAT_TIMEOUT",
            "MAILBOX_TIMEOUT",
            "MAX_WIRE_FRAME",
            "RECONNECT_WAIT",
            "ServiceConfig",
            "State",
            "default_mailbox_url",
        )
    },
    "TimerChanged": ("p2pchat.service.events", "TimerChanged"),
    "NoPathFound": ("p2pchat.service.link_choice", "NoPathFound"),
    "LocalMailbox": ("p2pchat.service.local_mailbox", "LocalMailbox"),
    "ERROR_PHASE": ("p2pchat.service.rendezvous", "ERROR_PHASE"),
    "MAX_EARLY_FRAMES": ("p2pchat.service.rendezvous", "MAX_EARLY_FRAMES"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        # Not an export: a submodule (``from p2pchat.service import events``) is then imported.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once: later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


def open_session(config: ServiceConfig) -> ChatSession:
    """A fresh conversation, typed as the seam every front end uses (a ``ChatService``)."""
    from p2pchat.service.chat_service import ChatService

    return ChatService(config)


__all__ = [
    "CLOSE_GRACE",
    "CODE_VALIDITY",
    "CONNECT_TIMEOUT",
    "ERROR_PHASE",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "MAILBOX_TIMEOUT",
    "MAX_EARLY_FRAMES",
    "MAX_WIRE_FRAME",
    "RECONNECT_WAIT",
    "ChatService",
    "ChatSession",
    "IceSettings",
    "LocalMailbox",
    "NoPathFound",
    "ServiceConfig",
    "SessionFactory",
    "State",
    "TimerChanged",
    "default_mailbox_url",
    "open_session",
    "run_loop",
]
