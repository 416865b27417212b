"""Reading an image worker's frames off its pipes, for ``media.worker``'s parent side.

What a child writes is hostile input to the parent (a compromised decoder may write
anything): every length is checked against a limit before it is read, a short
answer is explained by how the child died, and nothing but ``ImageRejected`` (in the
words of the side that refuses) comes out of here.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

from p2pchat.media.worker_protocol import (
    LENGTH,
    MAX_HEADER,
    MAX_READY,
    READY,
    decode_answer,
    parse_frame,
    refusal,
)


async def read_frame(
    child: asyncio.subprocess.Process, side: str, limit: int = MAX_HEADER + 5
) -> bytes:
    """One more length-prefixed frame from ``child``, without its length; an announced
    length over ``limit`` is refused unread (a check's answer is a few findings)."""
    assert child.stdout is not None
    try:
        head = await child.stdout.readexactly(LENGTH.size)
        (length,) = LENGTH.unpack(head)
        if length > limit:
            raise refusal(side, "broken")
        return await child.stdout.readexactly(length)
    except asyncio.IncompleteReadError as short:
        await child.wait()  # for its exit status: a signal says why it died
        decode_answer(short.partial, child.returncode, side)  # a short answer: raises
        raise refusal(side, "broken") from None


async def exchange(child: asyncio.subprocess.Process, request: bytes, memory_limit: int) -> bytes:
    """Send the request, read the one length-prefixed answer; a short answer once it died.

    The answer counts as read when its announced length has arrived, not when the child
    has exited. An announced length over the child's own memory limit is not an honest
    answer: nothing more is read, and the (short) answer is refused as broken.
    """
    assert child.stdin is not None and child.stdout is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it died: see below
        child.stdin.write(LENGTH.pack(len(request)))
        child.stdin.write(request)
        await child.stdin.drain()
        child.stdin.close()
    try:
        head = await child.stdout.readexactly(LENGTH.size)
        (length,) = LENGTH.unpack(head)
        if length > memory_limit:
            return head
        return head + await child.stdout.readexactly(length)
    except asyncio.IncompleteReadError as short:
        await child.wait()  # for its exit status: a signal says why it died
        return short.partial


async def read_ready(child: asyncio.subprocess.Process, side: str) -> dict[str, Any]:
    """A spare's first frame: ready, with its status; or its refusal (a failed sandbox)."""
    payload = await read_frame(child, side, MAX_READY)
    try:
        status, header, _body = parse_frame(payload)
    except (ValueError, UnicodeDecodeError, struct.error):
        raise refusal(side, "broken") from None
    if status != READY:
        decode_answer(LENGTH.pack(len(payload)) + payload, None, side)  # raises its refusal
        raise refusal(side, "broken")
    return header
