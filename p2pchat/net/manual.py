"""Copy-paste signalling: drive ``core.manual`` / ``core.reconnect`` with a real link.

No server: the caller supplies ``write(blob)`` (show a blob to the user) and
``read()`` (the blob the other person pasted back). These functions build the
``RtcLink``, turn SDPs into blobs and back, and hand the link to
``ChatService.pair_over_link`` for the bind and the session. Blobs carry sealed
SDPs only; nothing here logs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from p2pchat import events as ev
from p2pchat.core import manual
from p2pchat.core.errors import TransportError
from p2pchat.core.reconnect import PHASE_ANSWER, PHASE_HELLO, PHASE_OFFER, Reconnect
from p2pchat.net.rtc import RtcLink
from p2pchat.service import ChatService

Write = Callable[[str], None]
Read = Callable[[], Awaitable[str | None]]


async def _read(read: Read) -> str:
    blob = await read()
    if blob is None:
        raise TransportError("The other person's blob never came (input ended).")
    return blob


def _link(service: ChatService) -> RtcLink:
    return RtcLink(service.config.ice, loopback=service.config.loopback)


async def invite_first_contact(
    service: ChatService, code: str, write: Write, read: Read
) -> ev.Paired:
    """Blob 1 out, blob 2 in, blob 3 out; then bind. ``WrongCode`` if blob 2 does not open."""
    pairing = manual.ManualPairing(
        code, True, service.identity, service._capabilities(), appid=service.config.appid
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
        code, False, service.identity, service._capabilities(), appid=service.config.appid
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


def _reconnect(service: ChatService, psk: bytes, peer_identity: bytes, inviter: bool) -> Reconnect:
    side, peer = (
        (manual.INVITER_SIDE, manual.JOINER_SIDE)
        if inviter
        else (manual.JOINER_SIDE, manual.INVITER_SIDE)
    )
    return Reconnect(
        psk,
        side,
        service.identity,
        peer_identity,
        service._capabilities(),
        appid=service.config.appid,
        peer_side=peer,
    )


async def invite_pinned(
    service: ChatService, psk: bytes, peer_identity: bytes, write: Write, read: Read
) -> ev.Paired:
    """A pinned contact: signed hello + offer out, signed hello + answer in."""
    handshake = _reconnect(service, psk, peer_identity, inviter=True)
    (hello,) = handshake.start()
    link = _link(service)
    try:
        offer = handshake.seal_sdp(manual.compact_sdp(await link.create_offer()))
        write(manual.encode_blob(manual.KIND_PINNED_1, [hello.body, offer.body]))
        peer_hello, answer = manual.decode_blob(await _read(read), manual.KIND_PINNED_2)
        handshake.receive(PHASE_HELLO, manual.JOINER_SIDE, peer_hello)
        handshake.receive(PHASE_ANSWER, manual.JOINER_SIDE, answer)
        assert handshake.remote_sdp is not None
        await link.accept_answer(manual.expand_sdp(handshake.remote_sdp))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, handshake)


async def join_pinned(
    service: ChatService, psk: bytes, peer_identity: bytes, write: Write, read: Read
) -> ev.Paired:
    handshake = _reconnect(service, psk, peer_identity, inviter=False)
    (hello,) = handshake.start()
    peer_hello, offer = manual.decode_blob(await _read(read), manual.KIND_PINNED_1)
    handshake.receive(PHASE_HELLO, manual.INVITER_SIDE, peer_hello)
    handshake.receive(PHASE_OFFER, manual.INVITER_SIDE, offer)
    assert handshake.remote_sdp is not None
    link = _link(service)
    try:
        answer_sdp = await link.accept_offer(manual.expand_sdp(handshake.remote_sdp))
        answer = handshake.seal_sdp(manual.compact_sdp(answer_sdp))
        write(manual.encode_blob(manual.KIND_PINNED_2, [hello.body, answer.body]))
    except BaseException:
        await link.close()
        raise
    return await service.pair_over_link(link, handshake)
