"""The vault on its own, and the session's hand-over of view-once buffers (no network)."""

from __future__ import annotations

import copy
import gc
import os
import pickle
import weakref

import pytest

from p2pchat.core.errors import P2PChatError
from p2pchat.core.session import ImageComplete
from p2pchat.media import vault as vault_module
from p2pchat.media.vault import Vault, ViewOnceRefusedError, process_dumpable
from tests.core.helpers import converse, drain, make_pair


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


PHOTO = os.urandom(5000)


def sealed(vault: Vault, data: bytes = PHOTO, **kwargs: object) -> tuple[str, bytearray]:
    buffer = bytearray(data)
    return vault.put("m1", buffer, "image/jpeg", 4, 3, **kwargs), buffer  # type: ignore[arg-type]


def test_open_once_then_close_zeroes_the_buffer_and_drops_every_reference() -> None:
    vault = Vault()
    vault_id, buffer = sealed(vault, view_seconds=3)
    holder = weakref.ref(vault._items[vault_id])
    view = vault.open(vault_id)
    assert bytes(view) == PHOTO and view.readonly
    with pytest.raises(ViewOnceRefusedError, match="already opened"):
        vault.open(vault_id)
    vault.close(vault_id)
    gc.collect()
    assert holder() is None
    assert len(buffer) == len(PHOTO) and buffer == bytearray(len(PHOTO))
    with pytest.raises(ValueError):
        bytes(view)  # the viewer's view was released, it reads nothing
    assert vault_id not in vault and len(vault) == 0
    assert vault.gone_reason(vault_id) == "viewed"
    with pytest.raises(ViewOnceRefusedError, match="already opened"):
        vault.open(vault_id)
    vault.close(vault_id)  # idempotent


def test_unopened_items_expire_and_are_wiped() -> None:
    clock = Clock()
    vault = Vault(clock=clock)
    early, early_buffer = sealed(vault, expires_at=clock.now + 60)
    late, _ = sealed(vault, expires_at=clock.now + 600)
    assert vault.next_deadline() == clock.now + 60
    assert vault.expire(clock.now + 59) == []
    assert vault.expire(clock.now + 60) == [early]
    assert early_buffer == bytearray(len(PHOTO))
    assert early not in vault and late in vault
    assert vault.gone_reason(early) == "expired"
    with pytest.raises(ViewOnceRefusedError, match="expired"):
        vault.open(early)


def test_an_opened_item_whose_viewer_never_closed_is_wiped_after_its_countdown() -> None:
    clock = Clock()
    vault = Vault(clock=clock)
    vault_id, buffer = sealed(vault, view_seconds=10)
    vault.open(vault_id)
    assert vault.expire(clock.now + 10) == []
    assert vault.expire(clock.now + 10 + vault_module.OPEN_GRACE_SECONDS) == [vault_id]
    assert buffer == bytearray(len(PHOTO))


def test_wipe_all_and_default_expiry() -> None:
    clock = Clock()
    vault = Vault(clock=clock)
    first, a = sealed(vault)
    assert vault.entry(first).expires_at == clock.now + vault_module.DEFAULT_UNOPENED_TIMEOUT
    second, b = sealed(vault)
    assert sorted(vault.wipe_all()) == sorted([first, second])
    assert not any(a) and not any(b) and len(vault) == 0


@pytest.mark.parametrize("action", ["save", "forward", "export"])
def test_save_forward_and_export_refuse(action: str) -> None:
    vault = Vault()
    vault_id, _ = sealed(vault)
    with pytest.raises(ViewOnceRefusedError, match="cannot be") as caught:
        getattr(vault, action)(vault_id, "/tmp/out.jpg")
    assert isinstance(caught.value, P2PChatError)
    assert vault_id in vault  # refusing does not consume the item


@pytest.mark.parametrize(
    "duplicate",
    [pickle.dumps, copy.copy, copy.deepcopy],
    ids=["pickle", "copy", "deepcopy"],
)
def test_the_vault_and_its_items_cannot_be_copied(duplicate) -> None:  # type: ignore[no-untyped-def]
    vault = Vault()
    vault_id, _ = sealed(vault)
    with pytest.raises(ViewOnceRefusedError):
        duplicate(vault)
    with pytest.raises(ViewOnceRefusedError):
        duplicate(vault._items[vault_id])


def test_only_overwritable_buffers_are_accepted_and_nothing_leaks_in_repr() -> None:
    vault = Vault()
    with pytest.raises(TypeError):
        vault.put("m1", PHOTO, "image/jpeg", 4, 3)  # type: ignore[arg-type]
    vault_id, _ = sealed(vault)
    assert PHOTO[:8].hex() not in repr(vault) and repr(PHOTO[:8]) not in repr(vault)
    assert "data" not in repr(vault.entry(vault_id))


@pytest.mark.skipif(process_dumpable() is None, reason="prctl is Linux-only")
def test_no_core_dump_while_an_item_is_held() -> None:
    import resource

    gc.collect()  # vaults of earlier tests wipe themselves when collected
    assert process_dumpable() is True
    soft_before = resource.getrlimit(resource.RLIMIT_CORE)
    vault = Vault()
    first, _ = sealed(vault)
    second, _ = sealed(vault)
    assert process_dumpable() is False
    assert resource.getrlimit(resource.RLIMIT_CORE)[0] == 0
    vault.close(first)
    assert process_dumpable() is False  # one is still held
    vault.close(second)
    assert process_dumpable() is True
    assert resource.getrlimit(resource.RLIMIT_CORE) == soft_before


def test_session_hands_the_receiver_its_own_buffer_and_wipes_the_senders_copy() -> None:
    pair = make_pair()
    image_id = pair.a.send_image(PHOTO, "image/jpeg", 4, 3, view_once=True)
    senders_copy = pair.a._images_out[0].data
    assert isinstance(senders_copy, bytearray) and senders_copy == PHOTO
    converse(pair)
    assert senders_copy == bytearray()  # overwritten, then emptied, after the last chunk
    assert pair.a.outgoing_image_bytes == 0
    [complete] = [e for e in pair.b.events() if isinstance(e, ImageComplete)]
    assert complete.id == image_id and complete.data == PHOTO
    assert isinstance(complete.data, bytearray)  # no immutable copy left behind in the session
    assert pair.b.incoming_buffer_bytes == 0


def test_session_wipes_a_view_once_photo_cancelled_before_it_left() -> None:
    pair = make_pair()
    drain(pair.a)  # stream headers and hellos
    image_id = pair.a.send_image(PHOTO, "image/jpeg", 4, 3, view_once=True)
    senders_copy = pair.a._images_out[0].data
    assert pair.a.cancel_image(image_id)
    assert senders_copy == bytearray()
