"""What the other side's unauthenticated "error" phase can make us say (issue 16 §7).

A reconnect uses no code, so no reason a peer (or anyone at the mailbox) sends may
make it read "a wrong code"; a refused new key reads as a key change, in the TUI's
language too.
"""

from __future__ import annotations

import pytest

from p2pchat.core.errors import PeerRefusedLabel, RemoteProtocolError
from p2pchat.core.handshake import IdentityMismatch
from p2pchat.i18n import set_language
from p2pchat.service.rendezvous import _STOPPED_BECAUSE, KeyChangeReported, _stopped_by_peer
from p2pchat.tui.error_text import describe_error

BODIES = [*_STOPPED_BECAUSE, b"", b"\xff" * 40, b"pairing failed\x00", b"key changed "]


@pytest.mark.parametrize("body", BODIES)
def test_a_meeting_without_a_code_never_blames_a_code(body: bytes) -> None:
    error = _stopped_by_peer(body, reconnect=True)
    assert isinstance(error, RemoteProtocolError)
    assert "wrong code" not in str(error) and "invite" not in str(error)


def test_a_pairing_with_a_code_still_says_so() -> None:
    assert "wrong code" in str(_stopped_by_peer(b"pairing failed", reconnect=False))
    assert isinstance(_stopped_by_peer(b"label refused", reconnect=False), PeerRefusedLabel)


def test_a_refused_new_key_is_told_as_a_key_change() -> None:
    error = _stopped_by_peer(b"key changed", reconnect=True)
    assert isinstance(error, KeyChangeReported)
    assert "p2pchat identity --new" in str(error)
    try:
        set_language("ja")
        assert "鍵" in describe_error(error) and "identity --new" in describe_error(error)
    finally:
        set_language("en")


async def test_the_refusing_side_sends_key_changed() -> None:
    from p2pchat.service.rendezvous import ERROR_PHASE, announce_failure

    sent: list[tuple[str, bytes]] = []

    class Mailbox:
        async def add(self, phase: str, body: bytes) -> None:
            sent.append((phase, body))

        async def release(self) -> None:
            pass

        async def close(self, mood: str) -> None:
            pass

    await announce_failure(Mailbox(), IdentityMismatch(bytes(32), bytes([1]) * 32))  # type: ignore[arg-type]
    assert sent == [(ERROR_PHASE, b"key changed")]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("reconnect", [False, True])
def test_every_reason_a_peer_gives_reads_in_japanese_on_the_home_screen(
    body: bytes, reconnect: bool
) -> None:
    """The sentences were English-only: the TUI showed ``str(error)`` in any language."""
    from p2pchat.i18n import catalogue

    error = _stopped_by_peer(body, reconnect=reconnect)
    try:
        set_language("ja")
        shown = describe_error(error)
    finally:
        set_language("en")
    assert shown != str(error)
    assert shown in catalogue("ja").values() or "文字" in shown, shown
