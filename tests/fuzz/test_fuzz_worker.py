"""Fuzzing the image worker's edges: a compromised child's answer, and the shared budget.

- ``worker_answer``: what a child writes on its stdout is hostile input to the
  parent. Mutated real answers and random bytes must give a clean image whose
  bytes start like its type, or an ``ImageRejected``; never another exception.
- ``worker_pipe``: the same bytes written by a real child that then exits or stays
  (the parent takes an answer once its announced length is in, not at the exit):
  a clean image or an ``ImageRejected``, never a hang, and no process left behind.
- ``worker_ready``: a sending spare's first frame ("ready", with what it loaded),
  mutated or random, then a real answer, from a real child: a clean image or an
  ``ImageRejected`` from ``ready`` or ``run``, never a hang, no process left behind.
- ``worker_check``: the second answer of a ``check_after`` request (`p2pchat send`'s
  picture check, after the clean copy), mutated or random, from a real child that
  exits or stays: the clean copy is never lost, the check gives a report of picture
  findings only or an ``ImageRejected``, never a hang, and no process left behind.
- ``budget``: random programs of photos that reserve a place, wait for a slot of
  random memory, get cancelled or finish in random order. At every step the
  budget's limits hold; at the end everything was given back and every photo
  that was not refused or cancelled got its turn.
"""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.i18n import t
from p2pchat.media import worker
from p2pchat.media.budget import BudgetFull, WorkerBudget
from p2pchat.media.policy import CONTENT_CATEGORIES, SanitizePolicy
from p2pchat.media.report import Finding, PrivacyReport
from p2pchat.media.sanitize import SanitizedImage
from p2pchat.media.worker import ImageWorker
from p2pchat.media.worker_protocol import (
    CHECKED,
    KINDS,
    LENGTH,
    OK,
    READY,
    decode_answer,
    decode_check,
    frame,
)
from tests.fuzz.conftest import EXAMPLES, assert_only_p2pchat_errors, mutated
from tests.media.workers import worker_children

FAST = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def _answer(status: bytes, header: dict[str, object], body: bytes = b"") -> bytes:
    payload = frame(status, header, body)
    return LENGTH.pack(len(payload)) + payload


def _seeds() -> list[bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(buffer, "JPEG")
    report = PrivacyReport("JPEG", 8, 6).to_dict()
    ok = {"mime": "image/jpeg", "width": 8, "height": 6, "report": report}
    return [
        _answer(OK, ok, buffer.getvalue()),
        _answer(b"E", {"kind": "memory"}),
        _answer(b"E", {"kind": "invalid", "detail": "the image header is corrupt"}),
    ]


SEEDS = _seeds()


def check_answer(answer: bytes, exitcode: int | None) -> None:
    result = assert_only_p2pchat_errors(
        "worker_answer", lambda: decode_answer(answer, exitcode, "receive"), answer
    )
    if isinstance(result, SanitizedImage):
        assert result.data[:3] == b"\xff\xd8\xff" or result.data[:4] == b"\x89PNG"
    else:
        assert isinstance(result, ImageRejected)
        assert str(result).startswith("this photo was refused: ")


def test_seed_answers_decode() -> None:
    assert isinstance(decode_answer(SEEDS[0], 0, "receive"), SanitizedImage)
    for seed in SEEDS[1:]:
        check_answer(seed, 0)


@FAST
@given(mutated(SEEDS), st.sampled_from([0, 1, -9, -11, -24, -200, None]))
def test_mutated_answers(answer: bytes, exitcode: int | None) -> None:
    check_answer(answer, exitcode)


@FAST
@given(st.binary(max_size=300))
def test_random_answers(answer: bytes) -> None:
    check_answer(answer, 0)


# A real child per example: slower, so fewer examples.
REAL_CHILD = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
AFTER = st.sampled_from(["exit", "stay"])  # what the child does once it has written


def frames_from(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """What a child writes: a seed mutated, random bytes, or a seed as it is."""
    return st.one_of(mutated(seeds), st.binary(max_size=64), st.sampled_from(seeds))


def assert_no_worker_left() -> None:
    assert not [pid for pid in worker_children() if Path(f"/proc/{pid}").exists()]


# A child that reads its request's length, writes argv[1] (hex) and exits or stays.
WRITES = (
    "import sys, time; sys.stdin.buffer.read(4); "
    "sys.stdout.buffer.write(bytes.fromhex(sys.argv[1])); sys.stdout.flush(); "
    "time.sleep(600 if sys.argv[2] == 'stay' else 0)"
)


@REAL_CHILD
@given(frames_from(SEEDS), AFTER)
def test_answers_from_a_real_child(answer: bytes, after: str) -> None:
    argv = [sys.executable, "-I", "-c", WRITES, answer.hex(), after]

    async def exchange() -> object:
        child = await ImageWorker.start("receive", budget=WorkerBudget())
        policy = SanitizePolicy(max_long_edge=None, side="receive")
        # A short answer from a child that stays is only ended by the timeout.
        return await child.run(b"\xff\xd8\xff", policy, timeout=1)

    with mock.patch.object(worker, "WORKER_ARGV", argv):
        result = assert_only_p2pchat_errors("worker_pipe", lambda: asyncio.run(exchange()), answer)
    if isinstance(result, SanitizedImage):
        assert result.data[:3] == b"\xff\xd8\xff" or result.data[:4] == b"\x89PNG"
    else:
        assert isinstance(result, ImageRejected)
        assert str(result).startswith("this photo was refused: ")
    assert_no_worker_left()


# A spare: writes argv[1] (hex: its "ready" frame) at once, then after reading the
# request's length argv[2] (a real answer), and exits or stays.
READY_THEN_ANSWER = (
    "import sys, time; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1])); "
    "sys.stdout.flush(); sys.stdin.buffer.read(4); "
    "sys.stdout.buffer.write(bytes.fromhex(sys.argv[2])); sys.stdout.flush(); "
    "time.sleep(600 if sys.argv[3] == 'stay' else 0)"
)
READY_SEEDS = [
    _answer(READY, {"modules": ["numpy", "cv2", "onnxruntime"], "faces": True, "ocr": True}),
    _answer(READY, {}),
    _answer(b"E", {"kind": "start", "detail": "sandbox: Permission denied"}),
]


@REAL_CHILD
@given(frames_from(READY_SEEDS), AFTER)
def test_ready_frames_from_a_real_spare(ready: bytes, after: str) -> None:
    argv = [sys.executable, "-I", "-c", READY_THEN_ANSWER, ready.hex(), SEEDS[0].hex(), after]

    async def exchange() -> object:
        budget = WorkerBudget()
        spare = await ImageWorker.prewarm(budget.reserve(), budget, side="send", check=True)
        assert spare is not None
        policy = SanitizePolicy(side="send")
        try:
            await asyncio.wait_for(spare.ready(), 1)
        except TimeoutError:
            pass  # a short frame from a child that stays: run's own timeout ends it
        except ImageRejected:
            await spare.close()  # reaped before this loop ends
            raise
        return await spare.run(b"\xff\xd8\xff", policy, timeout=1)

    with mock.patch.object(worker, "WORKER_ARGV", argv):
        result = assert_only_p2pchat_errors("worker_ready", lambda: asyncio.run(exchange()), ready)
    if isinstance(result, SanitizedImage):
        assert result.data[:3] == b"\xff\xd8\xff"
    else:
        assert isinstance(result, ImageRejected)
        assert str(result).startswith("this photo cannot be sent: ")
    assert_no_worker_left()


# A sender's worker: after reading the request's length, the clean copy (argv[1]), then
# its picture check's answer (argv[2]); exits or stays.
ANSWER_THEN_CHECK = (
    "import sys, time; sys.stdin.buffer.read(4); "
    "sys.stdout.buffer.write(bytes.fromhex(sys.argv[1])); sys.stdout.flush(); "
    "sys.stdout.buffer.write(bytes.fromhex(sys.argv[2])); sys.stdout.flush(); "
    "time.sleep(600 if sys.argv[3] == 'stay' else 0)"
)
_FOUND = PrivacyReport("", 8, 6)
_FOUND.findings = [
    Finding("face_visible", "high", "1 face is visible in the picture."),
    Finding("gps", "high", "not a picture finding: a check may not add one"),
]
_FOUND.notes = ["the picture check could not run (ValueError)"]
CHECK_SEEDS = [
    _answer(CHECKED, {"report": _FOUND.to_dict(summary=False)}),
    _answer(CHECKED, {"report": PrivacyReport("", 0, 0).to_dict(summary=False)}),
    _answer(b"E", {"kind": "memory"}),
    _answer(b"E", {"jind": "memory"}),  # no kind: "invalid" with no detail, still worded
]


CHECK_WORDS = {t(f"image_refusal.check.{kind}", seconds=1, signal="x", detail="") for kind in KINDS}


def check_report(result: object) -> None:
    if isinstance(result, PrivacyReport):
        assert {f.category for f in result.findings} <= CONTENT_CATEGORIES
    else:
        assert isinstance(result, ImageRejected)
        # In the check's own words: never "cannot be sent" for a photo that was sent.
        said = str(result)
        assert "cannot be sent" not in said
        assert any(said.startswith(words) for words in CHECK_WORDS if words), said


@FAST
@given(st.one_of(mutated([c[4:] for c in CHECK_SEEDS]), st.binary(max_size=120)))
def test_check_answers_decode_to_picture_findings_or_a_refusal(payload: bytes) -> None:
    check_report(assert_only_p2pchat_errors("worker_check", lambda: decode_check(payload), payload))


@REAL_CHILD
@given(frames_from(CHECK_SEEDS), AFTER)
def test_check_answers_from_a_real_child(second: bytes, after: str) -> None:
    argv = [sys.executable, "-I", "-c", ANSWER_THEN_CHECK, SEEDS[0].hex(), second.hex(), after]

    async def exchange() -> object:
        child = await ImageWorker.start("send", budget=WorkerBudget())
        image, check = await child.run_then_check(b"\xff\xd8\xff", SanitizePolicy(), timeout=1)
        assert image.data[:3] == b"\xff\xd8\xff"  # the clean copy came first, whatever follows
        return await check

    with mock.patch.object(worker, "WORKER_ARGV", argv):
        result = assert_only_p2pchat_errors("worker_check", lambda: asyncio.run(exchange()), second)
    check_report(result)
    assert_no_worker_left()


PHOTO = st.tuples(
    st.integers(1, 3 * 1024),  # memory in MiB
    st.integers(0, 3),  # ticks it runs
    st.booleans(),  # cancelled while waiting
)


@FAST
@given(st.lists(PHOTO, min_size=1, max_size=14), st.integers(1, 3), st.integers(0, 4))
def test_budget_programs(photos: list[tuple[int, int, bool]], running: int, queued: int) -> None:
    EXAMPLES["budget"] += 1
    budget = WorkerBudget(max_running=running, max_memory=2048 << 20, max_queued=queued)

    def holds() -> None:
        assert 0 <= budget.running <= running
        assert budget._memory <= budget.max_memory or budget.running == 1
        assert 0 <= budget._places <= running + queued

    async def photo(memory: int, ticks: int, cancel: bool) -> str:
        try:
            place = budget.reserve()
        except BudgetFull:
            return "refused"
        try:
            waiting = asyncio.ensure_future(budget.slot(place, memory << 20))
            await asyncio.sleep(0)
            if cancel and not waiting.done():
                waiting.cancel()
            try:
                await waiting
            except asyncio.CancelledError:
                return "cancelled"
            holds()
            for _ in range(ticks):
                await asyncio.sleep(0)
                holds()
            return "ran"
        finally:
            place.release()
            holds()

    async def program() -> list[str]:
        return await asyncio.gather(*(photo(*p) for p in photos))

    outcomes = asyncio.run(program())
    assert budget.running == 0 and budget._memory == 0 and budget._places == 0
    assert not budget._waiting
    assert outcomes.count("refused") <= max(0, len(photos) - running - queued)
    assert budget.peak_running <= running


@FAST
@given(
    st.lists(PHOTO, min_size=1, max_size=10),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(-1, 9),  # which photo claims the spare (none when out of range)
)
def test_budget_programs_with_a_spare(
    photos: list[tuple[int, int, bool]], running: int, queued: int, claimer: int
) -> None:
    """A spare warm worker (media/budget.py ``add_spare``) never blocks a photo for good,
    never takes a photo's place, and leaves nothing behind."""
    EXAMPLES["budget"] += 1
    budget = WorkerBudget(max_running=running, max_memory=2048 << 20, max_queued=queued)

    def holds() -> None:
        assert 0 <= budget.running <= running
        assert budget._memory <= budget.max_memory or budget.running == 1
        # An evicted spare counts again until its (asynchronous) release.
        assert 0 <= budget._places <= running + queued + 1

    async def program() -> list[str]:
        loop = asyncio.get_running_loop()
        spare = budget.reserve() if running + queued > 0 else None
        if spare is not None:
            budget.add_spare(spare, lambda: loop.call_soon_threadsafe(spare.release))
            budget.try_slot(spare, 1 << 30, keep_free=1)
        holds()

        async def photo(index: int, memory: int, ticks: int, cancel: bool) -> str:
            try:
                place = budget.reserve()
            except BudgetFull:
                return "refused"
            if index == claimer and spare is not None and budget.claim_spare(spare):
                place.release()
                place = spare
            try:
                waiting = asyncio.ensure_future(budget.slot(place, memory << 20))
                await asyncio.sleep(0)
                if cancel and not waiting.done():
                    waiting.cancel()
                try:
                    await asyncio.wait_for(waiting, 10)  # a spare that never yields hangs here
                except asyncio.CancelledError:
                    return "cancelled"
                holds()
                for _ in range(ticks):
                    await asyncio.sleep(0)
                    holds()
                return "ran"
            finally:
                place.release()
                holds()

        outcomes = await asyncio.gather(*(photo(i, *p) for i, p in enumerate(photos)))
        if spare is not None:
            spare.release()  # the conversation ended: an unclaimed spare goes
        await asyncio.sleep(0)
        return outcomes

    outcomes = asyncio.run(program())
    assert budget.running == 0 and budget._memory == 0 and budget._places == 0
    assert not budget._waiting and not budget._spares
    # The spare took no photo's place: refusals are as without it.
    assert outcomes.count("refused") <= max(0, len(photos) - running - queued)
