"""Fuzzing the transit relay stream decoder (``p2pchat.net.transit.TransitLink``).

Whatever arrives on the relayed TCP stream (a hostile peer, or a relay that lies)
is split into frames by ``TransitLink``: raw bytes and mutations of well-formed
frame streams must yield only frames with a known channel and at most
``MAX_FRAME`` bytes, followed by a clean ``P2PChatError`` when the stream ends;
nothing else may escape. The stream comes from a real socket pair.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import P2PChatError
from p2pchat.core.keys import Channel
from p2pchat.net.transit import MAX_FRAME, TransitLink
from tests.fuzz.conftest import EXAMPLES, FuzzCrash, mutated


def frame(channel: int, payload: bytes) -> bytes:
    return struct.pack(">BI", channel, len(payload)) + payload


SEEDS = [
    frame(int(Channel.CONTROL), b"x" * 96) + frame(int(Channel.DATA), b"chunk" * 40),
    frame(int(Channel.DATA), b""),
    frame(int(Channel.CONTROL), bytes(range(256))) * 3,
    frame(int(Channel.DATA), b"y" * 1000)[:500],
]
FAST = settings(max_examples=150, deadline=None, database=None)
LONG = settings(
    max_examples=5_000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


async def _decode(data: bytes) -> list[tuple[Channel, bytes]]:
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)
    link = TransitLink(reader, writer)
    frames: list[tuple[Channel, bytes]] = []
    try:
        theirs.sendall(data)
        theirs.close()
        while True:
            try:
                frames.append(await asyncio.wait_for(link.recv(), 10))
            except P2PChatError:
                return frames
    finally:
        await link.close()


def check(data: bytes) -> None:
    EXAMPLES["transit-stream"] += 1
    try:
        frames = asyncio.run(_decode(data))
    except Exception as error:
        raise FuzzCrash(
            f"transit: {type(error).__name__}: {error} for {data.hex()[:4000]}"
        ) from error
    for channel, payload in frames:
        assert channel in (Channel.CONTROL, Channel.DATA) and len(payload) <= MAX_FRAME


@FAST
@given(st.one_of(st.binary(max_size=2048), mutated(SEEDS)))
def test_any_relayed_stream_gives_frames_then_a_clean_error(data: bytes) -> None:
    check(data)


def test_a_huge_announced_frame_is_refused_before_reading_it() -> None:
    header = bytes([int(Channel.DATA)]) + (MAX_FRAME + 1).to_bytes(4, "big")
    assert asyncio.run(_decode(header + b"z" * 64)) == []
    check(header)


@pytest.mark.slow
@LONG
@given(st.one_of(st.binary(max_size=4096), mutated(SEEDS, max_edits=16)))
def test_long_campaign_relayed_streams(data: bytes) -> None:
    check(data)
