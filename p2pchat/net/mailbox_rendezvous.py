"""The mailbox server's in-memory state: nameplates, mailboxes, app namespaces, limits.

Sans-I/O and split as in ``wormhole_mailbox_server``, one small object per
concern: ``Nameplate`` (who claimed a short name), ``Mailbox`` (the two sides,
their messages and listeners), ``AppNamespace`` (one appid's nameplates and
mailboxes) and ``Rendezvous`` (all apps plus the global limits and expiry).
A refused command raises ``CommandError``; ``ServerLimits`` are checked before
anything is allocated. Bodies, nameplates and mailbox ids are never logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerLimits:
    """Resource limits; every one is checked before the thing it bounds is allocated."""

    max_message_bytes: int = 64 * 1024
    messages_per_second: float = 20.0
    burst: int = 60
    # 1,000 concurrent pairings hold 2,000 connections for their lifetime (measured
    # with scripts/mailbox-load: 256 turned most of them away; 4096 peaks near 120 MiB).
    max_connections: int = 4096
    max_nameplates: int = 2048
    max_mailboxes: int = 2048
    max_messages_per_mailbox: int = 64
    bind_timeout: float = 5.0
    idle_timeout: float = 600.0
    nameplate_timeout: float = 600.0
    mailbox_timeout: float = 660.0
    send_queue: int = 256
    allow_list: bool = True
    motd: str | None = None


class CommandError(Exception):
    """A command the server refuses; becomes an ``error`` frame (the connection stays)."""

    def __init__(self, explain: str) -> None:
        super().__init__(explain)
        self.explain = explain


Listener = Callable[[dict[str, Any]], None]


@dataclass
class Nameplate:
    """A short name pointing at one mailbox; sides map to "still claimed"."""

    name: str
    mailbox_id: str
    created: float
    sides: dict[str, bool] = field(default_factory=dict)

    def is_claimed(self) -> bool:
        return any(self.sides.values())


@dataclass
class Mailbox:
    """A two-sided store-and-forward queue; sides map to "still open"."""

    mailbox_id: str
    updated: float
    sides: dict[str, bool] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    listeners: dict[object, Listener] = field(default_factory=dict)

    def admit(self, side: str, now: float) -> None:
        """Let ``side`` in (idempotent), unless two other sides are already in."""
        if side not in self.sides and len(self.sides) >= 2:
            raise CommandError("crowded")
        self.sides[side] = True
        self.updated = now

    def add(self, message: dict[str, Any], limit: int, now: float) -> None:
        if len(self.messages) >= limit:
            raise CommandError("mailbox full")
        self.messages.append(message)
        self.updated = now
        for deliver in list(self.listeners.values()):
            deliver(message)

    def close_side(self, side: str, now: float) -> bool:
        """Mark ``side`` closed; True when no side remains open (delete the mailbox)."""
        if side in self.sides:
            self.sides[side] = False
        self.updated = now
        return not any(self.sides.values())


class AppNamespace:
    """One appid's nameplates and mailboxes (apps never see each other's)."""

    def __init__(self, rendezvous: Rendezvous) -> None:
        self._rendezvous = rendezvous
        self.nameplates: dict[str, Nameplate] = {}
        self.mailboxes: dict[str, Mailbox] = {}

    def is_empty(self) -> bool:
        return not self.nameplates and not self.mailboxes

    def list_nameplates(self) -> list[str]:
        return sorted(self.nameplates, key=lambda name: (len(name), name))

    def allocate(self, side: str, now: float) -> str:
        name = self._free_nameplate()
        self.claim(name, side, now)
        return name

    def _free_nameplate(self) -> str:
        used = self.nameplates.keys()
        for digits in range(1, 4):
            free = [str(n) for n in range(10 ** (digits - 1), 10**digits) if str(n) not in used]
            if free:
                return random.choice(free)
        # 999 in use: the limit on nameplates keeps this search short.
        for _ in range(1000):
            name = str(random.randrange(1000, 1_000_000))
            if name not in used:
                return name
        raise CommandError("no free nameplate, try again later")

    def claim(self, name: str, side: str, now: float) -> str:
        nameplate = self.nameplates.get(name)
        if nameplate is None:
            self._rendezvous.reserve(nameplates=1, mailboxes=1)
            mailbox = self._create_mailbox(self._rendezvous.new_mailbox_id(), now)
            nameplate = Nameplate(name=name, mailbox_id=mailbox.mailbox_id, created=now)
            self.nameplates[name] = nameplate
        if nameplate.sides.get(side) is False:
            # Claiming again could make a new mailbox; the real server forbids it too.
            raise CommandError("reclaimed")
        if side not in nameplate.sides and len(nameplate.sides) >= 2:
            raise CommandError("crowded")
        self.mailboxes[nameplate.mailbox_id].admit(side, now)
        nameplate.sides[side] = True
        return nameplate.mailbox_id

    def release(self, name: str, side: str) -> None:
        nameplate = self.nameplates.get(name)
        if nameplate is None or side not in nameplate.sides:
            return
        nameplate.sides[side] = False
        if not nameplate.is_claimed():
            del self.nameplates[name]

    def open(self, mailbox_id: str, side: str, now: float) -> Mailbox:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is None:
            self._rendezvous.reserve(nameplates=0, mailboxes=1)
            mailbox = self._create_mailbox(mailbox_id, now)
        mailbox.admit(side, now)
        return mailbox

    def close(self, mailbox_id: str, side: str, now: float) -> None:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is not None and mailbox.close_side(side, now):
            self._delete_mailbox(mailbox)

    def prune(self, now: float, limits: ServerLimits) -> None:
        for name, nameplate in list(self.nameplates.items()):
            lonely = len(nameplate.sides) < 2
            if lonely and now - nameplate.created > limits.nameplate_timeout:
                del self.nameplates[name]
        for mailbox in list(self.mailboxes.values()):
            if mailbox.listeners:
                mailbox.updated = now
            elif now - mailbox.updated > limits.mailbox_timeout:
                self._delete_mailbox(mailbox)

    def _create_mailbox(self, mailbox_id: str, now: float) -> Mailbox:
        mailbox = Mailbox(mailbox_id=mailbox_id, updated=now)
        self.mailboxes[mailbox_id] = mailbox
        return mailbox

    def _delete_mailbox(self, mailbox: Mailbox) -> None:
        self.mailboxes.pop(mailbox.mailbox_id, None)
        for name, nameplate in list(self.nameplates.items()):
            if nameplate.mailbox_id == mailbox.mailbox_id:
                del self.nameplates[name]
        mailbox.listeners.clear()


class Rendezvous:
    """All appids, the global capacity limits, and expiry."""

    def __init__(self, limits: ServerLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._apps: dict[str, AppNamespace] = {}

    def app(self, appid: str) -> AppNamespace:
        namespace = self._apps.get(appid)
        if namespace is None:
            namespace = self._apps[appid] = AppNamespace(self)
        return namespace

    def count(self) -> tuple[int, int]:
        nameplates = sum(len(app.nameplates) for app in self._apps.values())
        mailboxes = sum(len(app.mailboxes) for app in self._apps.values())
        return nameplates, mailboxes

    def reserve(self, *, nameplates: int, mailboxes: int) -> None:
        in_use_nameplates, in_use_mailboxes = self.count()
        if in_use_nameplates + nameplates > self.limits.max_nameplates:
            raise CommandError("too many nameplates in use on this server, try again later")
        if in_use_mailboxes + mailboxes > self.limits.max_mailboxes:
            raise CommandError("too many mailboxes in use on this server, try again later")

    def new_mailbox_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        while True:
            mailbox_id = "".join(random.choice(alphabet) for _ in range(13))
            if all(mailbox_id not in app.mailboxes for app in self._apps.values()):
                return mailbox_id

    def prune(self) -> None:
        now = self.clock()
        for appid, namespace in list(self._apps.items()):
            namespace.prune(now, self.limits)
            if namespace.is_empty():
                del self._apps[appid]
