"""Copy-paste signalling: drive the ``core.handshake`` manual variants with a real link.

The orchestration lives in the service (it was ``net/manual.py``): the network
layer only provides the ``RtcLink`` and never sees the service.

No server: the caller supplies ``write(blob)`` (show a blob to the user) and
``read()`` (the blob the other person pasted back). These functions build the
``RtcLink``, turn SDPs into blobs and back, and hand the link to
``ChatService.pair_over_link`` for the bind and the session. Blobs carry sealed
SDPs only; nothing here logs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from p2pchat.core.errors import TransportError
from p2pchat.core.handshake import ManualReconnect, manual
from p2pchat.net.rtc import RtcLink
from p2pchat.service import events as ev
from p2pchat.service.chat_service import ChatService

Write = Callable[[str], None]
Read = Callable[[], Awaitable[str | None]]


async def _read(read: Read) -> str:
    blob = await read()
    if blob is None:
        raise TransportError("The other person's blob never came (input ended).")
    return blob


def _link(service: ChatService) -> RtcLink:
    # Copy-paste pairing has no server to agree on a relay channel through, and no
    # key before the blobs: WebRTC only (relay-only then needs TURN, as it says).
    ice = dataclasses.replace(service.config.ice, transit_relay=None)
    return RtcLink(ice, loopback=service.config.loopback)


async def invite_first_contact(
    service: ChatService, code: str, write: Write, read: Read
) -> ev.Paired:
    """Blob 1 out, blob 2 in, blob 3 out; then bind. ``WrongCode`` if blob 2 does not open."""
    pairing = manual.ManualPairing(
        code, True, service.identity, service.capabilities(), appid=service.config.appid
    )
    write(pairing.first_blob())
    offer = pairing.receive_second(await _read(read))
    link = _link(service)
    try:
        write(pairing.third_blob(await link.accept_offer(offer)))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, pairing)


async def join_first_contact(
    service: ChatService, code: str, write: Write, read: Read
) -> ev.Paired:
    """Blob 1 in, blob 2 out (with our offer), blob 3 in; then bind."""
    pairing = manual.ManualPairing(
        code, False, service.identity, service.capabilities(), appid=service.config.appid
    )
    first = await _read(read)
    link = _link(service)
    try:
        write(pairing.second_blob(first, await link.create_offer()))
        await link.accept_answer(pairing.receive_third(await _read(read)))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, pairing)


def _meeting(
    service: ChatService, psk: bytes, peer_identity: bytes, inviter: bool
) -> ManualReconnect:
    return ManualReconnect(
        psk,
        inviter,
        service.identity,
        peer_identity,
        service.capabilities(),
        appid=service.config.appid,
    )


async def invite_pinned(
    service: ChatService, psk: bytes, peer_identity: bytes, write: Write, read: Read
) -> ev.Paired:
    """A pinned contact: our signed offer out, their signed answer in."""
    meeting = _meeting(service, psk, peer_identity, inviter=True)
    link = _link(service)
    try:
        write(meeting.first_blob(await link.create_offer()))
        await link.accept_answer(meeting.receive_second(await _read(read)))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, meeting)


async def join_pinned(
    service: ChatService, psk: bytes, peer_identity: bytes, write: Write, read: Read
) -> ev.Paired:
    meeting = _meeting(service, psk, peer_identity, inviter=False)
    offer = meeting.receive_first(await _read(read))
    link = _link(service)
    try:
        write(meeting.second_blob(await link.accept_offer(offer)))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, meeting)
