"""The SCTP receiving side's bookkeeping of TSNs, in constant work per packet.

Owns: which TSNs an aiortc ``RTCSctpTransport`` has received beyond its cumulative
TSN, and the gap blocks it reports in a SACK. aiortc 1.16 sorts and re-filters the
whole set of out-of-order TSNs for every DATA chunk and again for every SACK, so
while a loss is being repaired each packet costs work in proportion to the data
held behind the hole (a bandwidth-delay product: hundreds of chunks at 1 % loss and
50 ms). Here a chunk that continues the last gap block, the usual case, extends it
in place; anything else rebuilds the blocks from the set once. The SACK carries the
same cumulative TSN, gap blocks and duplicates as aiortc's, so the wire is unchanged.

It also owns when a SACK is sent (``send_sack``: every second packet, at once for a
missing TSN, else within ``SACK_DELAY``). ``PacedSctpTransport`` (sctp_sender) calls
these through its ``_mark_received`` and ``_send_sack``;
``tests/fuzz/test_fuzz_sctp_receive.py`` checks them against aiortc's.

It also owns how deep the UDP socket buffer in front of the receiver is
(``deepen_socket_buffers``): every packet is read, decrypted and reassembled in
Python, so a busy receiver falls behind for a moment and the kernel drops whatever
does not fit in that buffer, in bursts, as loss that no link made.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import aioice.turn
from aiortc.rtcsctptransport import SCTP_DATA_LAST_FRAG, DataChunk, SackChunk

#: The receive buffer asked for on each ICE socket, in bytes of payload: the SCTP
#: receive window (1 MiB in aiortc) in ~1.2 kB datagrams, each charged about twice its
#: size by the kernel. Linux caps it at ``net.core.rmem_max`` (often 208 KiB: then it
#: changes nothing); aioice asks for 256 KiB.
UDP_RECEIVE_BUFFER: Final = 2 * 1024 * 1024
#: How long a SACK may be owed for a lone packet: far below the peer's minimum RTO
#: (ours 250 ms, dcSCTP's and usrsctp's 200 ms or more), RFC 9260 allows 200 ms.
SACK_DELAY: Final = 0.01
_MODULO: Final = 2**32
_HALF: Final = 2**31


def _after(a: int, b: int) -> bool:
    """TSN ``a`` comes after ``b`` (serial number arithmetic, RFC 1982)."""
    return 0 < (a - b) % _MODULO < _HALF


async def receive_data_chunk(sctp: Any, chunk: DataChunk) -> None:
    """aiortc's ``_receive_data_chunk``, asking for complete messages only when one
    can have completed.

    aiortc scans the stream's whole reassembly queue after every chunk, so a 60 kB
    message (50 chunks) cost 50 scans of up to 50 chunks. A message completes only
    when its last fragment is there and nothing before it is missing: a chunk that
    is neither a last fragment nor fills a hole (arrives below the highest TSN held)
    completes nothing."""
    sctp._sack_needed = True
    if sctp._mark_received(chunk.tsn):
        return
    stream = sctp._get_inbound_stream(chunk.stream_id)
    held = stream.reassembly
    appended = not held or _after(chunk.tsn, held[-1].tsn)
    stream.add_chunk(chunk)
    sctp._advertised_rwnd -= len(chunk.user_data)
    if not appended or chunk.flags & SCTP_DATA_LAST_FRAG:
        for message in stream.pop_messages():
            sctp._advertised_rwnd += len(message[2])
            await sctp._receive(*message)
    await sctp._reset_deferred_streams()


def mark_received(sctp: Any, tsn: int) -> bool:
    """aiortc's ``_mark_received``: record ``tsn``; True when it is a duplicate."""
    last = sctp._last_received_tsn
    misordered: set[int] = sctp._sack_misordered
    if not _after(tsn, last) or tsn in misordered:
        sctp._sack_duplicates.append(tsn)
        return True
    if tsn == (last + 1) % _MODULO:
        while (tsn + 1) % _MODULO in misordered:
            tsn = (tsn + 1) % _MODULO
            misordered.discard(tsn)
        sctp._last_received_tsn = tsn
        if sctp._sack_duplicates:
            sctp._sack_duplicates = [x for x in sctp._sack_duplicates if _after(x, tsn)]
        blocks = getattr(sctp, "_gap_blocks", None)
        if blocks:
            # The hole before the first block is filled: blocks now passed are gone.
            sctp._gap_blocks = [b for b in blocks if _after(b[1], tsn)] if misordered else []
        return False
    misordered.add(tsn)
    blocks = getattr(sctp, "_gap_blocks", None)
    if blocks and tsn == (blocks[-1][1] + 1) % _MODULO:
        blocks[-1][1] = tsn  # the common case: the run after a hole grows
    elif blocks is not None and (not blocks or _after(tsn, (blocks[-1][1] + 1) % _MODULO)):
        blocks.append([tsn, tsn])  # a new hole opened just before this chunk
    else:
        sctp._gap_blocks = None  # a hole in the middle filled: rebuild once
    return False


def gap_blocks(sctp: Any) -> list[tuple[int, int]]:
    """The SACK's gap blocks, as offsets from the cumulative TSN (RFC 9260 3.3.4)."""
    last = sctp._last_received_tsn
    blocks: list[list[int]] | None = getattr(sctp, "_gap_blocks", None)
    if blocks is None or (blocks and not _after(blocks[0][0], last)):
        blocks = []
        for tsn in sorted(sctp._sack_misordered, key=lambda x: (x - last) % _MODULO):
            if blocks and tsn == (blocks[-1][1] + 1) % _MODULO:
                blocks[-1][1] = tsn
            else:
                blocks.append([tsn, tsn])
        sctp._gap_blocks = blocks
    return [((start - last) % _MODULO, (end - last) % _MODULO) for start, end in blocks]


def build_sack(sctp: Any) -> SackChunk:
    """The SACK aiortc's ``_send_sack`` would build, from the blocks kept above."""
    sack = SackChunk()
    sack.cumulative_tsn = sctp._last_received_tsn
    sack.advertised_rwnd = max(0, sctp._advertised_rwnd)
    sack.duplicates = sctp._sack_duplicates[:]
    sack.gaps = gap_blocks(sctp)
    return sack


def after_forward_tsn(sctp: Any) -> None:
    """After aiortc's FORWARD TSN handling moved the cumulative TSN: take in the TSNs
    received just above it (aiortc sorts raw TSNs, so it stops before a wrap past
    2**32), and rebuild the blocks at the next SACK."""
    misordered: set[int] = sctp._sack_misordered
    last = sctp._last_received_tsn
    while (last + 1) % _MODULO in misordered:
        last = (last + 1) % _MODULO
        misordered.discard(last)
    sctp._last_received_tsn = last
    sctp._sack_duplicates = [x for x in sctp._sack_duplicates if _after(x, last)]
    sctp._gap_blocks = None


async def send_sack(sctp: Any) -> None:
    """After each packet with DATA: a SACK for every second one, at once for a missing or
    repeated TSN, else within ``SACK_DELAY`` (RFC 9260 sections 6.2 and 6.7)."""
    if sctp._sack_owed or sctp._sack_misordered or sctp._sack_duplicates:
        sctp._sack_owed = False
        if sctp._sack_handle is not None:
            sctp._sack_handle.cancel()
            sctp._sack_handle = None
        await sack_now(sctp)
        return
    sctp._sack_owed = True
    if sctp._sack_handle is None:
        sctp._sack_handle = sctp._timer_loop.call_later(SACK_DELAY, sctp._sack_due)


def sack_due(sctp: Any) -> None:
    """``SACK_DELAY`` after an unanswered packet: the SACK it is owed, in a task."""
    sctp._sack_handle = None
    if sctp._sack_owed and sctp._association_state == sctp.State.ESTABLISHED:
        sctp._sack_owed = False
        sctp._sack_task = asyncio.ensure_future(sack_now(sctp))


async def sack_now(sctp: Any) -> None:
    """aiortc's ``_send_sack``, with the gap blocks kept here."""
    await sctp._send_chunk(build_sack(sctp))
    sctp._sack_duplicates.clear()
    sctp._sack_needed = False


def deepen_socket_buffers() -> None:
    """Have aioice ask for ``UDP_RECEIVE_BUFFER`` on the sockets it opens from now on.

    aioice reads ``aioice.turn.UDP_SOCKET_BUFFER_SIZE`` each time it opens a host or
    relay socket, so this one assignment is the whole patch. Never lowered."""
    current = getattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", None)
    if isinstance(current, int) and current < UDP_RECEIVE_BUFFER:  # else: a new aioice
        aioice.turn.UDP_SOCKET_BUFFER_SIZE = UDP_RECEIVE_BUFFER


def uncovered(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end] less the ranges in ``covered`` (few, small: blocks of one SACK)."""
    parts = [(start, end)]
    for lo, hi in covered:
        parts = [
            piece
            for a, b in parts
            for piece in ((a, min(b, lo - 1)), (max(a, hi + 1), b))
            if piece[0] <= piece[1]
        ]
    return parts
