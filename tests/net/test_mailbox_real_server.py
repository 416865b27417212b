"""MailboxClient against the real magic-wormhole-mailbox-server (Twisted) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.errors import P2PChatError
from p2pchat.net.mailbox import MailboxClient, MailboxMessage
from tests.conftest import start_real_mailbox_server
from tests.net.conftest import APPID, assert_third_side_refused, open_pair


async def test_pairing_flow_through_the_real_server(real_mailbox_server: str) -> None:
    inviter, joiner, nameplate = await open_pair(real_mailbox_server)
    assert nameplate.isdigit()
    await inviter.add("pake", b"\x01" * 33)
    await joiner.add("pake", b"\x02" * 33)
    await inviter.add("version", b"sealed version")

    assert await joiner.next_message(5) == MailboxMessage(inviter.side, "pake", b"\x01" * 33)
    assert await joiner.next_message(5) == MailboxMessage(
        inviter.side, "version", b"sealed version"
    )
    # The real server echoes our own `pake` and `version` back: they must be dropped.
    assert await inviter.next_message(5) == MailboxMessage(joiner.side, "pake", b"\x02" * 33)

    assert nameplate in await inviter.list_nameplates()
    await inviter.release()
    await joiner.release()
    assert nameplate not in await inviter.list_nameplates()
    await inviter.close("happy")
    await joiner.close("happy")


async def test_released_nameplate_can_be_claimed_again(real_mailbox_server: str) -> None:
    inviter, joiner, nameplate = await open_pair(real_mailbox_server)
    old_mailbox = inviter.mailbox
    await inviter.close()
    await joiner.close()

    newcomer = await MailboxClient.connect(real_mailbox_server, APPID, timeout=5)
    assert await newcomer.claim(nameplate) != old_mailbox
    await newcomer.close("lonely")


async def test_real_server_crowded_error_is_explained(real_mailbox_server: str) -> None:
    await assert_third_side_refused(real_mailbox_server, "already being used by two other people")


async def test_real_server_refusing_service_is_reported(tmp_path: Path) -> None:
    refusal = pytest.raises(P2PChatError, match="refuses service: down for maintenance")
    with start_real_mailbox_server(tmp_path, "--signal-error=down for maintenance") as url, refusal:
        await MailboxClient.connect(url, APPID, timeout=5)
