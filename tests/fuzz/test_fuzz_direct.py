"""Fuzzing the direct TCP listener's proof (``p2pchat.net.direct.DirectListener``).

A stranger on the network sends whatever it likes to a real listener on
127.0.0.1: raw bytes, and mutations of a well-formed hello and proof. It may get
the listener's hello and nothing more (never a proof), it never becomes the
accepted link, and the peer with the key gets in afterwards all the same.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.net.direct import (
    HELLO_PREFIX,
    HELLO_SIZE,
    PROOF_SIZE,
    DirectListener,
    connect_direct,
)
from tests.fuzz.conftest import EXAMPLES, FuzzCrash, mutated

KEY = bytes(range(32))
SEEDS = [
    HELLO_PREFIX + bytes(16) + bytes(PROOF_SIZE),
    HELLO_PREFIX + os.urandom(16) + os.urandom(PROOF_SIZE) + b"\x01\x00\x00\x00\x05hello",
    HELLO_PREFIX + bytes(16),
    b"please relay " + b"0" * 64 + b" for side " + b"0" * 16 + b"\n",
]
FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
LONG = settings(
    max_examples=1_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


async def _stranger_then_peer(data: bytes) -> bytes:
    listener = await DirectListener.open(["127.0.0.1"])
    try:
        accepting = asyncio.ensure_future(listener.accept(KEY))
        reader, writer = await asyncio.open_connection(*listener.hints[0])
        said = b""
        try:
            writer.write(data)
            writer.write_eof()
            async with asyncio.timeout(10):
                while chunk := await reader.read(4096):
                    said += chunk
        except ConnectionResetError:
            pass
        finally:
            writer.close()
        assert not accepting.done(), "a stranger was accepted"
        link = await asyncio.wait_for(connect_direct(listener.hints, KEY), 10)
        accepted = await asyncio.wait_for(accepting, 10)
        await asyncio.gather(link.close(), accepted.close())
        return said
    finally:
        await listener.close()


def check(data: bytes) -> None:
    EXAMPLES["direct-listener"] += 1
    try:
        said = asyncio.run(_stranger_then_peer(data))
    except Exception as error:
        raise FuzzCrash(
            f"direct: {type(error).__name__}: {error} for {data.hex()[:4000]}"
        ) from error
    assert len(said) <= HELLO_SIZE and said.startswith(HELLO_PREFIX[: len(said)]), said


@FAST
@given(st.one_of(st.binary(max_size=512), mutated(SEEDS)))
def test_a_stranger_gets_a_hello_at_most_and_the_peer_still_gets_in(data: bytes) -> None:
    check(data)


@pytest.mark.slow
@LONG
@given(st.one_of(st.binary(max_size=4096), mutated(SEEDS, max_edits=16)))
def test_long_campaign_strangers(data: bytes) -> None:
    check(data)
