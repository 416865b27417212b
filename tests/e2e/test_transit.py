"""The transit relay fallback between two real ChatServices (issue 18).

The real mailbox server and the real ``magic-wormhole-transit-relay`` run on
127.0.0.1. A side that offers no ICE address (relay-only without TURN) makes a
direct path impossible, so both sides must meet at the relay, with the token
derived from the pairing, and run the same encrypted session over it: a text and
a real photo go through, and both ``paired`` events say ``transit``.
"""

from __future__ import annotations

import asyncio

import pytest

from p2pchat.net.rtc import IceSettings
from p2pchat.service import ChatService, ServiceConfig
from p2pchat.service import events as ev
from p2pchat.service.link_choice import NoPathFound
from tests.conftest import free_tcp_port
from tests.paired_services import next_of, pair
from tests.photos import photo

DEADLINE = 40.0


def config(mailbox: str, label: str, *, relay: str | None, relay_only: bool) -> ServiceConfig:
    return ServiceConfig(
        mailbox_url=mailbox,
        ice=IceSettings(relay_only=relay_only, transit_relay=relay),
        loopback=True,
        label=label,
        transit_after=1.0,
    )


async def chat_and_photo(alice: ChatService, bob: ChatService) -> None:
    await alice.send_text("over the relay")
    assert (await next_of(bob, ev.TextReceived)).text == "over the relay"  # type: ignore[attr-defined]
    await bob.send_text("and back")
    assert (await next_of(alice, ev.TextReceived)).text == "and back"  # type: ignore[attr-defined]
    prepared = await alice.prepare_image(photo("nikon-gps-DSCN0010.jpg").read_bytes())
    await alice.send_image(prepared)
    image = await next_of(bob, ev.ImageReceived)
    assert image.data and image.mime == "image/jpeg"  # type: ignore[attr-defined]
    assert (image.width, image.height) == (prepared.width, prepared.height)  # type: ignore[attr-defined]


@pytest.mark.parametrize("who_hides", ["both", "inviter", "joiner"])
async def test_relay_only_without_turn_goes_through_the_transit_relay(
    real_mailbox_server: str, transit_relay: str, who_hides: str
) -> None:
    alice_config = config(
        real_mailbox_server, "alice", relay=transit_relay, relay_only=who_hides != "joiner"
    )
    bob_config = config(
        real_mailbox_server, "bob", relay=transit_relay, relay_only=who_hides != "inviter"
    )
    async with pair(alice_config, bob_config) as (alice, bob, a_paired, b_paired):
        assert a_paired.connection == b_paired.connection == "transit"
        assert a_paired.safety_number == b_paired.safety_number
        await chat_and_photo(alice, bob)


async def test_with_a_direct_path_the_data_channels_stay(
    real_mailbox_server: str, transit_relay: str
) -> None:
    """Loopback ICE works at once: the relay is configured but not used."""
    alice_config = config(real_mailbox_server, "alice", relay=transit_relay, relay_only=False)
    bob_config = config(real_mailbox_server, "bob", relay=transit_relay, relay_only=False)
    alice_config.transit_after = bob_config.transit_after = 15.0
    async with pair(alice_config, bob_config) as (alice, bob, a_paired, b_paired):
        assert a_paired.connection == b_paired.connection == "direct"
        await chat_and_photo(alice, bob)


async def test_an_unreachable_relay_says_which_step_failed(real_mailbox_server: str) -> None:
    relay = f"tcp:127.0.0.1:{free_tcp_port()}"
    alice = ChatService(config(real_mailbox_server, "alice", relay=relay, relay_only=True))
    bob = ChatService(config(real_mailbox_server, "bob", relay=relay, relay_only=True))
    try:
        await bob.join(await alice.invite())
        for service in (alice, bob):
            with pytest.raises(NoPathFound) as caught:
                await service.wait_paired(DEADLINE)
            message = str(caught.value)
            assert "mailbox worked" in message and "STUN is off" in message
            assert f"transit relay {relay} failed" in message and "could not be reached" in message
            assert "another network" in message
            failed = await next_of(service, ev.Failed)
            assert failed.exit_code == 4  # type: ignore[attr-defined]
    finally:
        await asyncio.wait_for(asyncio.gather(alice.close(), bob.close()), DEADLINE)


@pytest.mark.parametrize("head_start", [0.0, 0.03, 0.06, 0.1])
async def test_when_both_paths_open_at_once_both_sides_keep_the_same_one(
    real_mailbox_server: str, transit_relay: str, head_start: float
) -> None:
    """ICE and the relay race: the inviter's choice is the one both keep.

    On loopback the relay wins with no head start for ICE and ICE wins with 0.1 s;
    in between either may, and the loser's link must be closed on both sides.
    """
    alice_config = config(real_mailbox_server, "alice", relay=transit_relay, relay_only=False)
    bob_config = config(real_mailbox_server, "bob", relay=transit_relay, relay_only=False)
    alice_config.transit_after = bob_config.transit_after = head_start
    async with pair(alice_config, bob_config) as (alice, bob, a_paired, b_paired):
        assert a_paired.connection == b_paired.connection
        assert a_paired.connection in ("direct", "transit")
        await chat_and_photo(alice, bob)
