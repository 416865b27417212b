"""Fuzzing message ids from a modified peer at the session (``core.session``).

A peer chooses the ids of what it sends, and it knows the ids of what we sent it.
Whatever sequence of texts and photo offers it sends, with ids drawn from a small
pool that mixes ours and its own, the session hands on each id at most once and
refuses a reused one with a ``RemoteProtocolError`` (never another exception).
"""

from __future__ import annotations

import hashlib
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from p2pchat.core import framing as fr
from p2pchat.core.errors import RemoteProtocolError
from p2pchat.core.keys import Channel
from p2pchat.core.session import ImageOffered, TextReceived
from tests.core.helpers import deliver, opened_victim
from tests.fuzz.conftest import EXAMPLES

PHOTO = os.urandom(1000)
POOL = tuple(f"{n:02x}" * 8 for n in range(3))
# "ours" sends a text of ours; an index >= len(POOL) makes the peer reuse one of our ids.
peer_messages = st.lists(
    st.tuples(st.sampled_from(("text", "photo", "ours")), st.integers(0, 5)),
    min_size=1,
    max_size=8,
)


def _photo(mid: str) -> list[fr.Frame]:
    header = fr.ImageHeader(
        id=mid,
        size=len(PHOTO),
        sha256=hashlib.sha256(PHOTO).digest(),
        mime="image/jpeg",
        w=32,
        h=32,
        n=fr.chunk_count(len(PHOTO)),
        view_once=False,
        view_seconds=10.0,
    )
    return [header, fr.Chunk(mid, 0, PHOTO)]


@settings(max_examples=300, deadline=None, database=None)
@given(peer_messages)
def test_an_id_is_handed_on_once_whatever_the_peer_sends(plan: list[tuple[str, int]]) -> None:
    peer, victim = opened_victim()
    ours: list[str] = []
    seen: list[str] = []
    EXAMPLES["session ids"] += 1
    try:
        for kind, pick in plan:
            if kind == "ours":
                ours.append(victim.send_text("mine"))
                seen.append(ours[-1])
                continue
            reuse_ours = pick >= len(POOL) and ours
            mid = ours[pick % len(ours)] if reuse_ours else POOL[pick % len(POOL)]
            if kind == "text":
                messages = [peer.frame(Channel.CONTROL, fr.Text(mid, "hi", 1.0))]
            else:
                messages = [peer.frame(Channel.DATA, frame) for frame in _photo(mid)]
            deliver(messages, victim)
            for event in victim.events():
                if isinstance(event, TextReceived | ImageOffered):
                    seen.append(event.id)
    except RemoteProtocolError:
        pass
    assert len(seen) == len(set(seen)), seen
