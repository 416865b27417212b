"""One client connection of the mailbox server: command parsing, order rules, rate limit.

``Connection`` checks each decoded command (bind, list, allocate, claim, release,
open, add, close, ping) against the protocol's order and format rules and
applies it to the shared ``Rendezvous``; refusals become ``error`` frames.
``RateLimiter`` is the per-connection token bucket. Per connection a client
gets one allocate, one claim and one open (so at most one nameplate and two
mailboxes); what it creates is charged to its address (``client``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

from p2pchat.net.mailbox_rendezvous import AppNamespace, CommandError, Mailbox, Rendezvous

NAMEPLATE_RE: Final = re.compile(r"[0-9]{1,40}")
MAILBOX_ID_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SIDE_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
PHASE_RE: Final = re.compile(r"[\x21-\x7e]{1,64}")
APPID_RE: Final = re.compile(r"[\x20-\x7e]{1,128}")
MOOD_RE: Final = re.compile(r"[a-z]{1,16}")
HEX_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
MESSAGE_ID_MAX: Final = 64


class RateLimiter:
    """Token bucket: ``rate`` commands per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


def _require(frame: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = frame.get(key)
    if value is None:
        raise CommandError(f"{what} requires '{key}'")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise CommandError(f"invalid '{key}'")
    return value


class Connection:
    """One client's protocol state: bind, then at most one allocate/claim/release/open/close."""

    def __init__(
        self,
        rendezvous: Rendezvous,
        send: Callable[[dict[str, Any]], None],
        client: str = "unknown",
    ) -> None:
        self._rendezvous = rendezvous
        self._send = send
        self._client = client
        self._held_mailboxes: set[str] = set()
        self.appid: str | None = None
        self.side: str | None = None
        self._did_allocate = False
        self._claimed_nameplate: str | None = None
        self._did_claim = False
        self._did_release = False
        self._mailbox: Mailbox | None = None
        self._mailbox_id: str | None = None
        self._did_close = False

    @property
    def bound(self) -> bool:
        return self.side is not None

    def welcome(self) -> None:
        welcome: dict[str, Any] = {}
        if self._rendezvous.limits.motd:
            welcome["motd"] = self._rendezvous.limits.motd
        self.reply("welcome", welcome=welcome)

    def reply(self, kind: str, **fields: Any) -> None:
        self._send({"type": kind, **fields, "server_tx": time.time()})

    def receive(self, frame: dict[str, Any]) -> None:
        """Handle one decoded command; refusals become ``error`` frames."""
        try:
            kind = frame.get("type")
            if not isinstance(kind, str):
                raise CommandError("missing 'type'")
            message_id = frame.get("id")
            if not isinstance(message_id, str | int | None) or (
                isinstance(message_id, str) and len(message_id) > MESSAGE_ID_MAX
            ):
                raise CommandError("invalid 'id'")
            self.reply("ack", id=message_id)
            handler = self._HANDLERS.get(kind)
            if handler is None:
                raise CommandError("unknown type")
            if kind not in ("ping", "bind") and not self.bound:
                raise CommandError("must bind first")
            handler(self, frame)
        except CommandError as error:
            # Every explanation is a fixed server text: safe for the operator log.
            self._rendezvous.refusals[error.explain] += 1
            self.reply("error", error=error.explain, orig=frame)

    def disconnected(self) -> None:
        """The WebSocket is gone: what only it held starts its grace period."""
        self._mailbox = None
        if self.appid is None:
            return
        nameplate = None if self._did_release else self._claimed_nameplate
        self._app().let_go(self, nameplate, self._held_mailboxes, self._rendezvous.clock())
        self._held_mailboxes.clear()

    # The handlers run only after bind (except ping and bind), so appid/side are set.

    def _app(self) -> AppNamespace:
        assert self.appid is not None
        return self._rendezvous.app(self.appid)

    def _side(self) -> str:
        assert self.side is not None
        return self.side

    def _ping(self, frame: dict[str, Any]) -> None:
        if "ping" not in frame:
            raise CommandError("ping requires 'ping'")
        ping = frame["ping"]
        if not isinstance(ping, int | str) or len(str(ping)) > MESSAGE_ID_MAX:
            raise CommandError("invalid 'ping'")
        self.reply("pong", pong=ping)

    def _bind(self, frame: dict[str, Any]) -> None:
        if self.bound:
            raise CommandError("already bound")
        appid = _require(frame, "appid", APPID_RE, "bind")
        side = _require(frame, "side", SIDE_RE, "bind")
        self.appid, self.side = appid, side

    def _list(self, frame: dict[str, Any]) -> None:
        names = self._app().list_nameplates() if self._rendezvous.limits.allow_list else []
        self.reply("nameplates", nameplates=[{"id": name} for name in names])

    def _allocate(self, frame: dict[str, Any]) -> None:
        if self._did_allocate:
            raise CommandError("you already allocated one, don't be greedy")
        if self._claimed_nameplate is not None:
            raise CommandError("only one claim per connection")
        name = self._app().allocate(self._side(), self._rendezvous.clock(), self, self._client)
        self._did_allocate = True
        self._claimed_nameplate = name
        self._held_mailboxes.add(self._app().nameplates[name].mailbox_id)
        self.reply("allocated", nameplate=name)

    def _claim(self, frame: dict[str, Any]) -> None:
        name = _require(frame, "nameplate", NAMEPLATE_RE, "claim")
        # After `allocate` (which claims), only that nameplate: one per connection.
        if self._did_claim or self._claimed_nameplate not in (None, name):
            raise CommandError("only one claim per connection")
        mailbox_id = self._app().claim(
            name, self._side(), self._rendezvous.clock(), self, self._client
        )
        self._claimed_nameplate = name
        self._did_claim = True
        self._held_mailboxes.add(mailbox_id)
        self.reply("claimed", mailbox=mailbox_id)

    def _release(self, frame: dict[str, Any]) -> None:
        if self._did_release:
            raise CommandError("only one release per connection")
        if "nameplate" in frame:
            name = _require(frame, "nameplate", NAMEPLATE_RE, "release")
            if self._claimed_nameplate is not None and name != self._claimed_nameplate:
                raise CommandError("release and claim must use same nameplate")
        elif self._claimed_nameplate is not None:
            name = self._claimed_nameplate
        else:
            raise CommandError("release without nameplate must follow claim")
        self._did_release = True
        self._app().release(name, self._side(), self, self._rendezvous.clock())
        self.reply("released")

    def _open(self, frame: dict[str, Any]) -> None:
        if self._mailbox is not None:
            raise CommandError("only one open per connection")
        mailbox_id = _require(frame, "mailbox", MAILBOX_ID_RE, "open")
        mailbox = self._app().open(
            mailbox_id, self._side(), self._rendezvous.clock(), self, self._client
        )
        self._mailbox, self._mailbox_id = mailbox, mailbox_id
        self._held_mailboxes.add(mailbox_id)
        backlog = list(mailbox.messages)
        mailbox.listeners[self] = self._deliver
        for message in backlog:
            self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        self.reply("message", **message)

    def _add(self, frame: dict[str, Any]) -> None:
        if self._mailbox is None:
            raise CommandError("must open mailbox before adding")
        phase = _require(frame, "phase", PHASE_RE, "add")
        if "body" not in frame:
            raise CommandError("missing 'body'")
        body = frame["body"]
        if not isinstance(body, str) or not HEX_RE.fullmatch(body):
            raise CommandError("'body' must be a hex string")
        message = {
            "side": self._side(),
            "phase": phase,
            "body": body,
            "server_rx": time.time(),
            "id": frame.get("id"),
        }
        limits = self._rendezvous.limits
        self._mailbox.add(message, limits.max_messages_per_mailbox, self._rendezvous.clock())

    def _close(self, frame: dict[str, Any]) -> None:
        if self._did_close:
            raise CommandError("only one close per connection")
        if "mailbox" in frame:
            mailbox_id = _require(frame, "mailbox", MAILBOX_ID_RE, "close")
            if self._mailbox_id is not None and mailbox_id != self._mailbox_id:
                raise CommandError("open and close must use same mailbox")
        elif self._mailbox_id is not None:
            mailbox_id = self._mailbox_id
        else:
            raise CommandError("close without mailbox must follow open")
        mood = frame.get("mood")
        if mood is not None and (not isinstance(mood, str) or not MOOD_RE.fullmatch(mood)):
            raise CommandError("invalid 'mood'")
        if self._mailbox is not None:
            self._mailbox.listeners.pop(self, None)
        self._did_close = True
        self._mailbox = None
        self._held_mailboxes.discard(mailbox_id)
        self._app().close(mailbox_id, self._side(), self._rendezvous.clock(), self)
        self.reply("closed")

    _HANDLERS: Final[dict[str, Callable[[Connection, dict[str, Any]], None]]] = {
        "ping": _ping,
        "bind": _bind,
        "list": _list,
        "allocate": _allocate,
        "claim": _claim,
        "release": _release,
        "open": _open,
        "add": _add,
        "close": _close,
    }
