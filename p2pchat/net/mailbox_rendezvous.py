"""The mailbox server's in-memory state: nameplates, mailboxes, app namespaces, limits.

Sans-I/O and split as in ``wormhole_mailbox_server``, one small object per
concern: ``Nameplate`` (who claimed a short name), ``Mailbox`` (the two sides,
their messages and listeners), ``AppNamespace`` (one appid's nameplates and
mailboxes) and ``Rendezvous`` (all apps plus the global and per-client limits,
expiry, and the refusal counts the operator log reports).
A refused command raises ``CommandError``; ``ServerLimits`` are checked before
anything is allocated. Bodies, nameplates and mailbox ids are never logged.

Every nameplate and mailbox is charged to the client address that made it
(``client_key``: an IPv4 address, or the /64 of an IPv6 one), so that one client
cannot take the whole server; and each remembers which live connections hold it,
so that one whose every holder disconnected is freed after a short grace instead
of the ten-minute expiry.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

# A nameplate that `list` may show: one the server allocated (a short number read
# aloud). Names chosen by clients, such as a reconnect's 12-digit meeting point
# derived from a shared key, are never listed.
LISTABLE_DIGITS: Final = 6


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
    # One client address (an IPv4 address or an IPv6 /64) gets at most this share:
    # a school or office behind one NAT pairs dozens of people at once, while one
    # flooding address can no longer take all 2,048 nameplates (32 such are needed).
    max_connections_per_client: int = 256
    max_nameplates_per_client: int = 64
    max_mailboxes_per_client: int = 64
    max_messages_per_mailbox: int = 64
    bind_timeout: float = 5.0
    idle_timeout: float = 600.0
    nameplate_timeout: float = 600.0
    mailbox_timeout: float = 660.0
    # A nameplate or mailbox whose every connection went away is freed after this:
    # the real wormhole client's reconnect back-off is capped at 60 s, so 90 s lets
    # one full wait plus the reconnect through, and not ten minutes of squatting.
    abandoned_grace: float = 90.0
    send_queue: int = 256
    # `list` shows the nameplates in use to anyone: off unless the operator asks.
    allow_list: bool = False
    motd: str | None = None


class CommandError(Exception):
    """A command the server refuses; becomes an ``error`` frame (the connection stays)."""

    def __init__(self, explain: str) -> None:
        super().__init__(explain)
        self.explain = explain


Listener = Callable[[dict[str, Any]], None]


def client_key(address: str) -> str:
    """The unit the per-client limits count: an IPv4 address, or an IPv6 /64.

    One IPv6 host usually has a whole /64 to pick addresses from; an IPv4-mapped
    IPv6 address is its IPv4 address. Anything unparsable is its own key.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class Held:
    """Which live connections hold a nameplate or mailbox, and since when none does."""

    owner: str
    holders: set[object] = field(default_factory=set)
    abandoned_at: float | None = None

    def hold(self, connection: object) -> None:
        self.holders.add(connection)
        self.abandoned_at = None

    def let_go(self, connection: object, now: float) -> None:
        self.holders.discard(connection)
        if not self.holders and self.abandoned_at is None:
            self.abandoned_at = now

    def abandoned_for(self, now: float) -> float:
        return 0.0 if self.abandoned_at is None else now - self.abandoned_at


@dataclass
class Nameplate(Held):
    """A short name pointing at one mailbox; sides map to "still claimed"."""

    name: str = ""
    mailbox_id: str = ""
    created: float = 0.0
    allocated: bool = False
    sides: dict[str, bool] = field(default_factory=dict)

    def is_claimed(self) -> bool:
        return any(self.sides.values())


@dataclass
class Mailbox(Held):
    """A two-sided store-and-forward queue; sides map to "still open"."""

    mailbox_id: str = ""
    updated: float = 0.0
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
        names = [
            name
            for name, nameplate in self.nameplates.items()
            if nameplate.allocated and len(name) <= LISTABLE_DIGITS
        ]
        return sorted(names, key=lambda name: (len(name), name))

    def allocate(self, side: str, now: float, holder: object, client: str) -> str:
        name = self._free_nameplate()
        self.claim(name, side, now, holder, client)
        self.nameplates[name].allocated = True
        return name

    def _free_nameplate(self) -> str:
        # `secrets`, not `random`: the next nameplate must not be predictable from
        # earlier ones (a predicted nameplate can be claimed first, as a squatter).
        used = self.nameplates.keys()
        for digits in range(1, 4):
            free = [str(n) for n in range(10 ** (digits - 1), 10**digits) if str(n) not in used]
            if free:
                return secrets.choice(free)
        # 999 in use: the limit on nameplates keeps this search short.
        for _ in range(1000):
            name = str(1000 + secrets.randbelow(999_000))
            if name not in used:
                return name
        raise CommandError("no free nameplate, try again later")

    def claim(self, name: str, side: str, now: float, holder: object, client: str) -> str:
        nameplate = self.nameplates.get(name)
        if nameplate is None:
            self._rendezvous.reserve(client, nameplates=1, mailboxes=1)
            mailbox = self._create_mailbox(self._rendezvous.new_mailbox_id(), now, client)
            nameplate = Nameplate(
                owner=client, name=name, mailbox_id=mailbox.mailbox_id, created=now
            )
            self.nameplates[name] = nameplate
            self._rendezvous.charge(client, nameplates=1)
        if nameplate.sides.get(side) is False:
            # Claiming again could make a new mailbox; the real server forbids it too.
            raise CommandError("reclaimed")
        if side not in nameplate.sides and len(nameplate.sides) >= 2:
            raise CommandError("crowded")
        mailbox = self.mailboxes[nameplate.mailbox_id]
        mailbox.admit(side, now)
        nameplate.sides[side] = True
        nameplate.hold(holder)
        mailbox.hold(holder)
        return nameplate.mailbox_id

    def release(self, name: str, side: str, holder: object, now: float) -> None:
        nameplate = self.nameplates.get(name)
        if nameplate is None or side not in nameplate.sides:
            return
        nameplate.sides[side] = False
        nameplate.let_go(holder, now)
        if not nameplate.is_claimed():
            self._drop_nameplate(name)

    def open(self, mailbox_id: str, side: str, now: float, holder: object, client: str) -> Mailbox:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is None:
            self._rendezvous.reserve(client, nameplates=0, mailboxes=1)
            mailbox = self._create_mailbox(mailbox_id, now, client)
        mailbox.admit(side, now)
        mailbox.hold(holder)
        return mailbox

    def close(self, mailbox_id: str, side: str, now: float, holder: object) -> None:
        mailbox = self.mailboxes.get(mailbox_id)
        if mailbox is None:
            return
        mailbox.let_go(holder, now)
        if mailbox.close_side(side, now):
            self._delete_mailbox(mailbox)

    def let_go(
        self, holder: object, nameplate: str | None, mailbox_ids: set[str], now: float
    ) -> None:
        """A holding connection went away: start the grace of what it held alone."""
        if nameplate is not None and (held := self.nameplates.get(nameplate)) is not None:
            held.let_go(holder, now)
        for mailbox_id in mailbox_ids:
            if (mailbox := self.mailboxes.get(mailbox_id)) is not None:
                mailbox.listeners.pop(holder, None)
                mailbox.let_go(holder, now)

    def prune(self, now: float, limits: ServerLimits) -> None:
        grace = limits.abandoned_grace
        for name, nameplate in list(self.nameplates.items()):
            lonely = len(nameplate.sides) < 2
            if (lonely and now - nameplate.created > limits.nameplate_timeout) or (
                nameplate.abandoned_for(now) > grace
            ):
                self._drop_nameplate(name)
        for mailbox in list(self.mailboxes.values()):
            if mailbox.listeners:
                mailbox.updated = now
            if mailbox.abandoned_for(now) > grace or (
                not mailbox.listeners and now - mailbox.updated > limits.mailbox_timeout
            ):
                self._delete_mailbox(mailbox)

    def _create_mailbox(self, mailbox_id: str, now: float, client: str) -> Mailbox:
        mailbox = Mailbox(owner=client, mailbox_id=mailbox_id, updated=now)
        self.mailboxes[mailbox_id] = mailbox
        self._rendezvous.charge(client, mailboxes=1)
        return mailbox

    def _drop_nameplate(self, name: str) -> None:
        nameplate = self.nameplates.pop(name, None)
        if nameplate is not None:
            self._rendezvous.charge(nameplate.owner, nameplates=-1)

    def _delete_mailbox(self, mailbox: Mailbox) -> None:
        if self.mailboxes.pop(mailbox.mailbox_id, None) is not None:
            self._rendezvous.charge(mailbox.owner, mailboxes=-1)
        for name, nameplate in list(self.nameplates.items()):
            if nameplate.mailbox_id == mailbox.mailbox_id:
                self._drop_nameplate(name)
        mailbox.listeners.clear()


class Rendezvous:
    """All appids, the global and per-client capacity limits, expiry, refusal counts."""

    def __init__(self, limits: ServerLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._apps: dict[str, AppNamespace] = {}
        self._nameplates_by_client: Counter[str] = Counter()
        self._mailboxes_by_client: Counter[str] = Counter()
        # Reason -> how many times, since the operator log last reported them.
        self.refusals: Counter[str] = Counter()

    def app(self, appid: str) -> AppNamespace:
        namespace = self._apps.get(appid)
        if namespace is None:
            namespace = self._apps[appid] = AppNamespace(self)
        return namespace

    def count(self) -> tuple[int, int]:
        nameplates = sum(len(app.nameplates) for app in self._apps.values())
        mailboxes = sum(len(app.mailboxes) for app in self._apps.values())
        return nameplates, mailboxes

    def reserve(self, client: str, *, nameplates: int, mailboxes: int) -> None:
        in_use_nameplates, in_use_mailboxes = self.count()
        limits = self.limits
        if in_use_nameplates + nameplates > limits.max_nameplates:
            raise CommandError("too many nameplates in use on this server, try again later")
        if in_use_mailboxes + mailboxes > limits.max_mailboxes:
            raise CommandError("too many mailboxes in use on this server, try again later")
        if self._nameplates_by_client[client] + nameplates > limits.max_nameplates_per_client:
            raise CommandError("too many nameplates in use from your address, try again later")
        if self._mailboxes_by_client[client] + mailboxes > limits.max_mailboxes_per_client:
            raise CommandError("too many mailboxes in use from your address, try again later")

    def charge(self, client: str, *, nameplates: int = 0, mailboxes: int = 0) -> None:
        for counter, delta in (
            (self._nameplates_by_client, nameplates),
            (self._mailboxes_by_client, mailboxes),
        ):
            counter[client] += delta
            if counter[client] <= 0:
                del counter[client]

    def new_mailbox_id(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz234567"
        while True:
            mailbox_id = "".join(secrets.choice(alphabet) for _ in range(13))
            if all(mailbox_id not in app.mailboxes for app in self._apps.values()):
                return mailbox_id

    def prune(self) -> None:
        now = self.clock()
        for appid, namespace in list(self._apps.items()):
            namespace.prune(now, self.limits)
            if namespace.is_empty():
                del self._apps[appid]
