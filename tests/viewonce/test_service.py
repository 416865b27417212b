"""View-once through two real ChatServices on 127.0.0.1 (no UI)."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import weakref

import pytest

from p2pchat.core.conversation import MessageState, ViewOnceState
from p2pchat.core.errors import ImageRejected
from p2pchat.media.vault import Vault, ViewOnceRefusedError
from p2pchat.service import events as ev

from .audit import FileAudit, worker_argv
from .conftest import next_event, noise_photo, pair_services, until


async def test_received_view_once_photo_is_sealed_and_the_sender_keeps_no_copy(services):
    alice, bob = services
    prepared = await alice.prepare_image(noise_photo())
    message_id = await alice.send_image(prepared, view_once=True, view_seconds=4)
    received = await next_event(bob, ev.ImageReceived)
    assert received.message_id == message_id
    assert received.view_once and received.view_seconds == 4
    assert received.data == b"" and received.vault_id in bob.vault
    assert "data" not in str(ev.event_to_json(received))
    await next_event(alice, ev.Delivered)
    # Nothing in the whole process refers to the prepared bytes but the caller's own object.
    gc.collect()
    holders = [r for r in gc.get_referrers(prepared.data) if r is not prepared]
    holders = [r for r in holders if not (isinstance(r, dict) and r is vars(prepared))]
    assert holders == [], [type(r) for r in holders]
    assert alice.outgoing_image_bytes == 0
    # The sender's record of it is a state, never the photo.
    sent = alice.conversation.get(message_id)
    assert sent is not None and sent.state is MessageState.DELIVERED
    assert sent.view_once is ViewOnceState.SEALED and not hasattr(sent, "data")
    view = bob.vault.open(received.vault_id)
    assert bytes(view[:3]) == b"\xff\xd8\xff"
    del view
    await bob.mark_opened(message_id)
    assert received.vault_id not in bob.vault  # mark_opened wipes whatever the viewer left
    assert bob.conversation.get(message_id).view_once is ViewOnceState.VIEWED  # type: ignore[union-attr]
    assert (await next_event(alice, ev.Opened)).message_id == message_id
    assert alice.conversation.get(message_id).view_once is ViewOnceState.OPENED  # type: ignore[union-attr]
    with pytest.raises(ViewOnceRefusedError):
        bob.vault.open(received.vault_id)


async def test_unopened_photo_expires_and_is_wiped(embedded_mailbox):
    alice, bob = await pair_services(embedded_mailbox, bob_changes={"view_once_timeout": 0.3})
    try:
        prepared = await alice.prepare_image(noise_photo(seed=3))
        await alice.send_image(prepared, view_once=True)
        received = await next_event(bob, ev.ImageReceived)
        buffer = bob.vault._items[received.vault_id].data
        await until(lambda: received.vault_id not in bob.vault, "the sealed photo expired")
        assert buffer is not None and len(buffer) > 0 and not any(buffer)
        assert bob.vault.gone_reason(received.vault_id) == "expired"
        with pytest.raises(ViewOnceRefusedError, match="expired"):
            bob.vault.open(received.vault_id)
    finally:
        await alice.close()
        await bob.close()


async def test_closing_the_service_wipes_sealed_photos(services):
    alice, bob = services
    await alice.send_image(await alice.prepare_image(noise_photo(seed=4)), view_once=True)
    received = await next_event(bob, ev.ImageReceived)
    holder = weakref.ref(bob.vault._items[received.vault_id])
    buffer = bob.vault._items[received.vault_id].data
    await bob.close()
    gc.collect()
    assert holder() is None and len(bob.vault) == 0
    assert buffer is not None and not any(buffer)


async def test_a_peer_that_cannot_honour_view_once_is_refused_up_front(embedded_mailbox):
    alice, bob = await pair_services(embedded_mailbox, bob_changes={"honours_view_once": False})
    try:
        paired = await alice.wait_paired()
        assert paired.peer_view_once is False
        prepared = await alice.prepare_image(noise_photo(seed=5))
        with pytest.raises(ImageRejected, match="cannot honour view-once"):
            await alice.send_image(prepared, view_once=True)
    finally:
        await alice.close()
        await bob.close()


async def test_the_file_witness_catches_a_vault_that_writes_a_temp_file(
    services, monkeypatch, tmp_path
):
    """The same check as the TUI lifecycle test, against a deliberately leaking vault."""
    alice, bob = services
    leaked: list[str] = []
    original_put = Vault.put

    def leaky_put(self, message_id, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        handle, path = tempfile.mkstemp(dir=tmp_path, suffix=".jpg")
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        leaked.append(path)
        return original_put(self, message_id, data, *args, **kwargs)

    monkeypatch.setattr(Vault, "put", leaky_put)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    prepared = await alice.prepare_image(noise_photo(seed=6))
    sent = bytes(prepared.data)
    with FileAudit() as audit:
        await alice.send_image(prepared, view_once=True)
        received = await next_event(bob, ev.ImageReceived)
    sealed = bytes(bob.vault._items[received.vault_id].data or b"")
    problems = audit.problems([sent, sealed])
    assert leaked and os.path.exists(leaked[0])
    assert any(p.startswith("written: tempfile.mkstemp") for p in problems), problems
    assert any(p == f"the image bytes are in {leaked[0]}" for p in problems), problems
    # The leak is the only thing wrong: the real receive path itself is clean.
    assert audit.processes == [worker_argv("receive")]
    assert any(p.startswith("written to a file descriptor: regular file") for p in problems)
    assert all(leaked[0] in p or "regular file" in p for p in problems), problems
