"""Attacks on the code-free reconnect, with a modified peer and a modified mailbox (issue 19).

Real parts: the embedded mailbox server on 127.0.0.1, two ``ChatService``s with
aiortc on loopback. The "modified mailbox" is that server with the operator's
view of its state (every nameplate and message); the "modified peer" is a raw
``MailboxClient`` that holds only what the attacker holds. Each attack must fail
before the victim sends anything that holds an address (no ``offer``/``answer``
phase, no connection started), and the pair must still meet afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import nacl.signing
import pytest

from p2pchat.core import crypto
from p2pchat.core.handshake import (
    APPID,
    MEETING_ATTEMPTS,
    MEETING_WINDOW_SECONDS,
    meeting_key,
    meeting_window,
    rendezvous_nameplate,
)
from p2pchat.i18n import speaking
from p2pchat.i18n.error_words import notice_text
from p2pchat.net import mailbox_rendezvous
from p2pchat.net.mailbox import MailboxClient
from p2pchat.net.mailbox_server import MailboxServer
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from p2pchat.service import meeting as meeting_module

DEADLINE = 30.0
PSK = bytes(range(100, 132))
POINT_KEY = meeting_key(PSK)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
ALICE, BOB = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
ADDRESS_PHASES = {"offer", "answer"}


class Operator:
    """The mailbox operator's view: every message added, and the nameplates in use."""

    def __init__(self, server: MailboxServer, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.url = url
        self.messages: list[dict[str, Any]] = []
        original = mailbox_rendezvous.Mailbox.add

        def recording_add(box: Any, message: dict[str, Any], limit: int, now: float) -> None:
            self.messages.append(dict(message))
            original(box, message, limit, now)

        monkeypatch.setattr(mailbox_rendezvous.Mailbox, "add", recording_add)
        self.claimed: set[str] = set()
        original_claim = mailbox_rendezvous.AppNamespace.claim

        def recording_claim(app: Any, name: str, *args: Any) -> str:
            self.claimed.add(name)
            return original_claim(app, name, *args)  # type: ignore[no-any-return]

        monkeypatch.setattr(mailbox_rendezvous.AppNamespace, "claim", recording_claim)

    def nameplates(self) -> set[str]:
        return set(self.server._rendezvous.app(APPID).nameplates)

    async def new_nameplate(self, known: set[str]) -> str:
        """The next nameplate someone claims (what the operator sees)."""
        for _ in range(int(DEADLINE / 0.02)):
            fresh = self.nameplates() - known
            if fresh:
                return fresh.pop()
            await asyncio.sleep(0.02)
        raise AssertionError("nobody claimed a nameplate")

    def phases_from(self, side: str) -> list[str]:
        return [m["phase"] for m in self.messages if m["side"] == side]


@pytest.fixture
async def operator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Operator]:
    server = MailboxServer()
    url = await server.start()
    try:
        yield Operator(server, url, monkeypatch)
    finally:
        await server.stop()


def service(
    url: str, me: nacl.signing.SigningKey, label: str, side: str | None = None
) -> ChatService:
    """A service; with ``side``, its mailbox connections bind with that side id."""
    svc = ChatService(
        ServiceConfig(mailbox_url=url, ice=IceSettings(), loopback=True, label=label, identity=me)
    )
    if side is not None:

        async def connect() -> MailboxClient:
            svc._emit(ev.ConnectionChanged(state="pairing"))
            svc._mailbox = await MailboxClient.connect(url, APPID, timeout=10, side=side)
            return svc._mailbox

        svc._connect_mailbox = connect  # type: ignore[method-assign]
    return svc


async def drain(svc: ChatService) -> list[ev.ServiceEvent]:
    """Events until the pairing ended (paired or failed)."""
    seen: list[ev.ServiceEvent] = []
    while True:
        event = await asyncio.wait_for(svc.next_event(), DEADLINE)
        seen.append(event)
        if isinstance(event, ev.Paired | ev.Failed):
            return seen


def started_a_connection(events: list[ev.ServiceEvent]) -> bool:
    return any(isinstance(e, ev.ConnectionChanged) and e.state == "connecting" for e in events)


@contextlib.asynccontextmanager
async def meeting(
    url: str, sides: tuple[str | None, str | None] = (None, None)
) -> AsyncIterator[tuple[ChatService, ChatService]]:
    alice = service(url, ALICE, "alice", sides[0])
    bob = service(url, BOB, "bob", sides[1])
    try:
        await alice.reconnect(PSK, bytes(BOB.verify_key))
        await bob.reconnect(PSK, bytes(ALICE.verify_key))
        yield alice, bob
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


async def assert_they_still_meet(
    url: str, sides: tuple[str | None, str | None] = (None, None)
) -> tuple[list[ev.ServiceEvent], list[ev.ServiceEvent]]:
    """Alice and Bob meet and agree; each one's events up to ``Paired``."""
    async with meeting(url, sides) as (alice, bob):
        seen = await asyncio.gather(drain(alice), drain(bob))
        paired = [events[-1] for events in seen]
        assert isinstance(paired[0], ev.Paired) and isinstance(paired[1], ev.Paired)
        assert paired[0].safety_number == paired[1].safety_number
        return seen[0], seen[1]


def psk_only_offer(side: str) -> bytes:
    """An offer as someone holding only the reconnect key can make it (no identity key)."""
    phase_key = crypto.hkdf_sha256(PSK, b"p2pchat/v1:reconnect:phase")
    return crypto.seal(crypto.phase_key(phase_key, side, "offer"), SDP.encode())


async def test_offer_without_a_hello_gets_no_answer(operator: Operator) -> None:
    # The attacker holds only the reconnect key (contacts.json leaked) and picks a side
    # that sorts first, so that the victim would be the answerer.
    url = operator.url
    bob = service(url, BOB, "bob", side="5555555555")
    await bob.reconnect(PSK, bytes(ALICE.verify_key))
    nameplate = await operator.new_nameplate(set())
    attacker = await MailboxClient.connect(url, APPID, side="0000000000")
    await attacker.open(await attacker.claim(nameplate))
    await attacker.add("offer", psk_only_offer("0000000000"))
    events = await drain(bob)
    assert isinstance(events[-1], ev.Failed)
    assert not ADDRESS_PHASES & set(operator.phases_from("5555555555"))
    assert not started_a_connection(events)
    await attacker.close()
    await bob.close()
    await assert_they_still_meet(url)


async def test_replayed_hello_and_offer_get_no_answer(operator: Operator) -> None:
    # The operator records a real meeting, then plays Alice's part (she offered: her
    # side sorts first) back to Bob at the next one. It holds neither the reconnect key
    # nor any identity key.
    url = operator.url
    await assert_they_still_meet(url, ("1111111111", "eeeeeeeeee"))
    recorded = [m for m in operator.messages if m["side"] == "1111111111"]
    assert [m["phase"] for m in recorded][:1] == ["hello"] and "offer" in {
        m["phase"] for m in recorded
    }
    operator.messages.clear()
    bob = service(url, BOB, "bob", side="eeeeeeeeee")
    await bob.reconnect(PSK, bytes(ALICE.verify_key))
    nameplate = await operator.new_nameplate(set())
    replayer = await MailboxClient.connect(url, APPID, side="1111111111")
    await replayer.open(await replayer.claim(nameplate))
    for message in recorded:
        if message["phase"] in ("hello", "offer"):
            await replayer.add(message["phase"], bytes.fromhex(message["body"]))
    events = await drain(bob)
    assert isinstance(events[-1], ev.Failed)
    assert not ADDRESS_PHASES & set(operator.phases_from("eeeeeeeeee"))
    assert not started_a_connection(events)
    await replayer.close()
    await bob.close()
    await assert_they_still_meet(url)


async def test_replayed_hello_gets_no_offer(operator: Operator) -> None:
    # The other way round: Bob's recorded hello played to Alice, who would offer.
    url = operator.url
    await assert_they_still_meet(url, ("1111111111", "eeeeeeeeee"))
    recorded = [m for m in operator.messages if m["side"] == "eeeeeeeeee"]
    operator.messages.clear()
    alice = service(url, ALICE, "alice", side="1111111111")
    await alice.reconnect(PSK, bytes(BOB.verify_key))
    nameplate = await operator.new_nameplate(set())
    replayer = await MailboxClient.connect(url, APPID, side="eeeeeeeeee")
    await replayer.open(await replayer.claim(nameplate))
    for message in recorded:
        if message["phase"] != "answer":
            await replayer.add(message["phase"], bytes.fromhex(message["body"]))
    events = await drain(alice)
    assert isinstance(events[-1], ev.Failed)
    assert not ADDRESS_PHASES & set(operator.phases_from("1111111111"))
    assert not started_a_connection(events)
    await replayer.close()
    await alice.close()
    await assert_they_still_meet(url)


# --- section 2: a meeting point that cannot be squatted for good


def todays_points() -> list[str]:
    window = meeting_window(time.time())
    return [rendezvous_nameplate(POINT_KEY, window, attempt) for attempt in range(MEETING_ATTEMPTS)]


async def test_a_crowded_meeting_point_is_left_for_the_next_one(operator: Operator) -> None:
    # Someone who saw today's meeting point (listed, or as the operator) fills it with
    # two sides of its own: both contacts move on, say so, and meet.
    squatters = [await MailboxClient.connect(operator.url, APPID) for _ in range(2)]
    for squatter in squatters:
        await squatter.claim(todays_points()[0])
    alice_events, bob_events = await assert_they_still_meet(operator.url)
    for events in (alice_events, bob_events):
        notices = [e.message for e in events if isinstance(e, ev.Notice)]
        assert len(notices) == 1 and "taken by someone else" in notices[0]
        # The front ends word it in the reader's language (issue 16 §2).
        [notice] = [e for e in events if isinstance(e, ev.Notice)]
        with speaking("ja"):
            assert "次の場所に移りました" in notice_text(notice)
    assert todays_points()[1] in operator.claimed
    for squatter in squatters:
        await squatter.close()


async def test_a_stranger_speaking_at_the_meeting_point_is_left(operator: Operator) -> None:
    # One squatter side that posts a hello of its own (it lacks the reconnect key).
    squatter = await MailboxClient.connect(operator.url, APPID, side="0000000000")
    await squatter.open(await squatter.claim(todays_points()[0]))
    await squatter.add("hello", bytes(80))
    alice_events, bob_events = await assert_they_still_meet(operator.url)
    assert any(isinstance(e, ev.Notice) for e in alice_events + bob_events)
    await squatter.close()


async def test_all_meeting_points_squatted_fails_with_advice(operator: Operator) -> None:
    squatters = []
    for nameplate in todays_points():
        for _ in range(2):
            squatters.append(await MailboxClient.connect(operator.url, APPID))
            await squatters[-1].claim(nameplate)
    bob = service(operator.url, BOB, "bob")
    await bob.reconnect(PSK, bytes(ALICE.verify_key))
    events = await drain(bob)
    assert isinstance(events[-1], ev.Failed)
    assert "taken by someone else" in events[-1].message
    assert events[-1].exit_code != 1
    await bob.close()
    for squatter in squatters:
        await squatter.close()


async def test_sides_straddling_the_end_of_a_window_still_meet(
    operator: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alice starts just before the meeting window ends, Bob just after: Alice follows
    # the clock to the new window's point, where Bob waits.
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = (meeting_window(time.time()) + 1) * MEETING_WINDOW_SECONDS
    monkeypatch.setattr(meeting_module, "_now", lambda: end - 1.0 + (loop.time() - start))
    alice = service(operator.url, ALICE, "alice")
    bob = service(operator.url, BOB, "bob")
    try:
        await alice.reconnect(PSK, bytes(BOB.verify_key))
        await asyncio.sleep(1.5)
        await bob.reconnect(PSK, bytes(ALICE.verify_key))
        seen = await asyncio.gather(drain(alice), drain(bob))
        assert all(isinstance(events[-1], ev.Paired) for events in seen)
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)
    next_window = meeting_window(end)
    assert rendezvous_nameplate(POINT_KEY, next_window) in operator.claimed
    assert rendezvous_nameplate(POINT_KEY, next_window - 1) in operator.claimed


async def test_a_contact_with_another_key_fails_with_an_explanation(operator: Operator) -> None:
    # Bob's contact list was restored from an old backup: his key is not Alice's. They
    # walk the day's meeting points together, then both stop with advice, not a hang.
    alice = service(operator.url, ALICE, "alice")
    bob = service(operator.url, BOB, "bob")
    try:
        await alice.reconnect(PSK, bytes(BOB.verify_key))
        await bob.reconnect(bytes(32), bytes(ALICE.verify_key), meeting_key=POINT_KEY)
        seen = await asyncio.gather(drain(alice), drain(bob))
        for events in seen:
            assert isinstance(events[-1], ev.Failed)
            assert "reconnect key" in events[-1].message
            assert not started_a_connection(events)
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


async def test_the_real_mailbox_servers_crowded_point_is_left_too(real_mailbox_server: str) -> None:
    # magic-wormhole-mailbox-server words "crowded" its own way round: still a squat.
    squatters = [await MailboxClient.connect(real_mailbox_server, APPID) for _ in range(2)]
    for squatter in squatters:
        await squatter.claim(todays_points()[0])
    alice_events, bob_events = await assert_they_still_meet(real_mailbox_server)
    assert any(isinstance(e, ev.Notice) for e in alice_events)
    assert any(isinstance(e, ev.Notice) for e in bob_events)
    for squatter in squatters:
        await squatter.close()
