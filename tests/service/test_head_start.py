"""The head start of an invite (service/head_start.py), as `p2pchat send` uses it.

Real parts: the embedded mailbox server, aiortc on loopback, real image workers. An
invite opened before the service exists is taken over by ``ChatService.invite``; each
photo's worker is running (a child process of its own) as soon as ``start_cleaning``
returns, before anything else is awaited.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected, TransportError
from p2pchat.media.policy import CONTENT_CATEGORIES
from p2pchat.media.sanitize import SanitizePolicy
from p2pchat.media.worker import sanitize_async
from p2pchat.media.worker_protocol import CHECK_NICENESS
from p2pchat.service import events as ev
from p2pchat.service import head_start, open_session
from tests.conftest import free_tcp_port
from tests.tui.helpers import ALICE_KEY, BOB_KEY
from tests.viewonce.conftest import DEADLINE, loopback_config, next_event, noise_photo

FACE_CARD = Path(head_start.__file__).parents[1] / "media" / "face_card.jpg"


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P2PCHAT_CONFIG_DIR", str(tmp_path / "default-config"))


def _image_workers() -> set[int]:
    """The pids of this process's children that run the image worker."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == os.getpid() and b"worker_child" in command:
            pids.add(int(entry.name))
    return pids


async def test_an_invite_opened_ahead_is_taken_over_by_the_service(embedded_mailbox):
    config = loopback_config(embedded_mailbox, ALICE_KEY, "alice")
    opened = await head_start.invite_ahead(config)
    alice = open_session(config)  # the service exists only now, as in `p2pchat send`
    bob = open_session(loopback_config(embedded_mailbox, BOB_KEY, "bob"))
    try:
        assert await alice.invite(opened) == opened.code
        await bob.join(opened.code)
        await asyncio.gather(alice.wait_paired(DEADLINE), bob.wait_paired(DEADLINE))
        await alice.send_text("from the head start")
        assert (await next_event(bob, ev.TextReceived)).text == "from the head start"
    finally:
        await alice.close()
        await bob.close()


async def test_an_unreachable_mailbox_is_named_before_any_code():
    url = f"ws://127.0.0.1:{free_tcp_port()}/v1"
    config = loopback_config(url, ALICE_KEY, "alice")
    with pytest.raises(TransportError, match="Cannot reach the mailbox server") as raised:
        await head_start.invite_ahead(config)
    assert url in str(raised.value)


async def test_each_photo_has_its_own_worker_running_once_cleaning_starts():
    config = loopback_config("ws://127.0.0.1:9/v1", ALICE_KEY, "alice")
    policy = head_start.sending_policy(config)
    before = _image_workers()
    first = await head_start.start_cleaning(noise_photo(seed=1), policy)
    second = await head_start.start_cleaning(noise_photo(seed=2), policy)
    try:
        # Nothing awaited the tasks yet: both children already run, one for each photo.
        assert len(_image_workers() - before) == 2
        one, two = await asyncio.wait_for(asyncio.gather(first, second), DEADLINE)
        assert one.image.data[:3] == two.image.data[:3] == b"\xff\xd8\xff"
        assert one.image.data != two.image.data
        await asyncio.wait_for(asyncio.gather(one.check, two.check), DEADLINE)
    finally:
        first.cancel()
        second.cancel()
        await asyncio.gather(first, second, return_exceptions=True)


async def test_the_picture_check_follows_the_clean_copy_and_finds_what_it_found_inline():
    """`send`'s check only warns: the clean copy comes back first, the same bytes as with
    the check in line, and the check that follows finds the same face and card."""
    data = FACE_CARD.read_bytes()
    policy = head_start.sending_policy(loopback_config("ws://127.0.0.1:9/v1", ALICE_KEY, "a"))
    cleaned = await asyncio.wait_for(await head_start.start_cleaning(data, policy), DEADLINE)
    assert not cleaned.image.report.categories() & CONTENT_CATEGORIES
    report = await asyncio.wait_for(cleaned.check, DEADLINE)
    inline = await sanitize_async(data, policy)
    assert cleaned.image.data == inline.data
    seen = {"face_visible", "document_visible", "text_visible"}  # not the timed digit reader
    found = [f for f in report.findings if f.category in seen]
    assert found == [f for f in inline.report.findings if f.category in seen]
    assert {"face_visible", "document_visible"} <= report.categories()
    assert report.categories() <= CONTENT_CATEGORIES
    assert not _image_workers()  # the worker is gone once its check is told


async def test_a_photo_that_cannot_be_cleaned_has_no_check_to_wait_for():
    policy = head_start.sending_policy(loopback_config("ws://127.0.0.1:9/v1", ALICE_KEY, "a"))
    job = await head_start.start_cleaning(b"not a photo at all", policy)
    with pytest.raises(ImageRejected, match="cannot be sent"):
        await asyncio.wait_for(job, DEADLINE)
    assert not _image_workers()


def test_the_check_gives_way_to_the_processes_that_carry_the_photo():
    """After the clean copy, the worker checks at a lower priority: on two cores, the
    sender's and the receiver's own work is what carries the photo meanwhile."""
    probe = (
        "import os; from p2pchat.media.worker_child import _lower_priority; "
        "before = os.nice(0); _lower_priority(); print(before, os.nice(0))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    before, after = map(int, done.stdout.split())
    assert after == min(19, before + CHECK_NICENESS), done.stderr  # 19 is the ceiling


def test_the_sending_policy_is_the_one_prepare_image_always_used():
    config = loopback_config("ws://127.0.0.1:9/v1", ALICE_KEY, "alice")
    default = head_start.sending_policy(config)
    assert default == replace(config.image_policy, scan_content=True)
    assert head_start.sending_policy(config, True).max_long_edge is None
    smaller = head_start.sending_policy(config, max_side=500)
    assert smaller.max_long_edge == 500 and smaller.scan_content
    original = head_start.sending_policy(config, True, max_side=700)
    assert original == replace(SanitizePolicy(max_long_edge=700, side="send"), scan_content=True)
