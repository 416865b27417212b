"""Fuzz the mailbox server's state (sans-I/O): many clients, any command order.

Hostile clients from a few addresses send arbitrary sequences of protocol
commands (valid, out of order, repeated, malformed), disconnect at any time, and
the clock jumps. After every step: no command raises (refusals are ``error``
frames), what each address is charged equals what it owns, no address holds more
than its share, and the server-wide limits hold. At the end, once every client is
gone and the grace has passed, the server holds nothing: no nameplate or mailbox
can be pinned by a client that left (issue 13 §4).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.net.mailbox_connection import Connection
from p2pchat.net.mailbox_rendezvous import Rendezvous, ServerLimits
from tests.fuzz.conftest import EXAMPLES

LIMITS = ServerLimits(
    max_nameplates=6,
    max_mailboxes=7,
    max_nameplates_per_client=2,
    max_mailboxes_per_client=3,
    max_messages_per_mailbox=5,
    abandoned_grace=10.0,
    nameplate_timeout=100.0,
    mailbox_timeout=110.0,
    allow_list=True,
)
CLIENTS = ("198.51.100.1", "2001:db8::/64")
NAMEPLATES = ["1", "2", "3", "12", "314159265358", "x", ""]
MAILBOXES = ["aaaaaaaaaaaaa", "bbbb", "../etc", ""]
FAST = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

commands = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("bind"),
            "appid": st.sampled_from(["app", "other"]),
            "side": st.sampled_from(["s1", "s2", "s3"]),
        }
    ),
    st.fixed_dictionaries({"type": st.just("allocate")}),
    st.fixed_dictionaries({"type": st.just("list")}),
    st.fixed_dictionaries({"type": st.just("claim"), "nameplate": st.sampled_from(NAMEPLATES)}),
    st.fixed_dictionaries({"type": st.just("release")}),
    st.fixed_dictionaries({"type": st.just("release"), "nameplate": st.sampled_from(NAMEPLATES)}),
    st.fixed_dictionaries({"type": st.just("open"), "mailbox": st.sampled_from(MAILBOXES)}),
    st.fixed_dictionaries({"type": st.just("add"), "phase": st.just("p"), "body": st.just("00")}),
    st.fixed_dictionaries({"type": st.just("close"), "mood": st.just("happy")}),
    st.fixed_dictionaries({"type": st.just("close"), "mailbox": st.sampled_from(MAILBOXES)}),
    st.dictionaries(st.sampled_from(["type", "id", "nameplate"]), st.none() | st.integers()),
)
# What most clients do first: take a nameplate (allocated, or named in a claim).
first_commands = st.one_of(
    st.just({"type": "allocate"}),
    st.fixed_dictionaries({"type": st.just("claim"), "nameplate": st.sampled_from(NAMEPLATES)}),
    commands,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("connect"), st.sampled_from(CLIENTS), st.booleans(), first_commands),
        st.tuples(st.just("connect"), st.sampled_from(CLIENTS), st.just(True), first_commands),
        st.tuples(st.just("command"), st.integers(0, 20), commands),
        st.tuples(st.just("disconnect"), st.integers(0, 20)),
        st.tuples(st.just("wait"), st.sampled_from([0.5, 5.0, 11.0, 60.0])),
    ),
    min_size=20,
    max_size=80,
)


def check_invariants(rendezvous: Rendezvous) -> None:
    owned_nameplates: Counter[str] = Counter()
    owned_mailboxes: Counter[str] = Counter()
    for app in rendezvous._apps.values():
        owned_nameplates.update(nameplate.owner for nameplate in app.nameplates.values())
        owned_mailboxes.update(mailbox.owner for mailbox in app.mailboxes.values())
        for nameplate in app.nameplates.values():
            assert nameplate.mailbox_id in app.mailboxes  # never dangling
    assert rendezvous._nameplates_by_client == owned_nameplates
    assert rendezvous._mailboxes_by_client == owned_mailboxes
    assert all(count <= LIMITS.max_nameplates_per_client for count in owned_nameplates.values())
    assert all(count <= LIMITS.max_mailboxes_per_client for count in owned_mailboxes.values())
    nameplates, mailboxes = rendezvous.count()
    assert nameplates <= LIMITS.max_nameplates and mailboxes <= LIMITS.max_mailboxes


@FAST
@given(steps)
def test_no_client_can_pin_server_state(script: list[tuple[Any, ...]]) -> None:
    EXAMPLES["mailbox server state"] += 1
    now = [0.0]
    rendezvous = Rendezvous(LIMITS, lambda: now[0])
    live: list[Connection] = []
    sent: list[dict[str, Any]] = []
    for step in script:
        if step[0] == "connect":
            connection = Connection(rendezvous, sent.append, step[1])
            live.append(connection)
            if step[2]:  # most clients bind at once; then the drawn command
                side = f"s{len(live) % 4}"
                connection.receive({"type": "bind", "appid": "app", "side": side})
                connection.receive(step[3])
        elif step[0] == "command" and live:
            live[step[1] % len(live)].receive(step[2])
        elif step[0] == "disconnect" and live:
            live.pop(step[1] % len(live)).disconnected()
        elif step[0] == "wait":
            now[0] += step[1]
            rendezvous.prune()
        check_invariants(rendezvous)
    for connection in live:
        connection.disconnected()
    now[0] += LIMITS.abandoned_grace + 1
    rendezvous.prune()
    check_invariants(rendezvous)
    assert rendezvous.count() == (0, 0)
    assert not rendezvous._nameplates_by_client and not rendezvous._mailboxes_by_client
