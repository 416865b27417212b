"""The six lessons of `p2pchat demo`, as steps that act on the live stage and check a claim.

Lessons 1 to 4 are here; 5 and 6 (trust, and what to do after) in ``lessons_trust.py``,
the plain words and hidden pictures in ``lesson_words.py``, the shared shapes in
``lesson_types.py``. ``STEPS`` lists them all, in order.

Owns what each step does and what it claims. A step's ``run`` performs the
step for real (inspect the sample, send it from Alice to Bob, open a view-once
photo, try a wrong code, export the conversation) and returns a
``StepOutcome``: the lines shown to the class, and whether the step's claim
held on the live state. The app shows outcomes; ``--check`` prints them. All
texts come from the ``[demo]`` table of the i18n catalogues.
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any, Final

from p2pchat.i18n import t
from p2pchat.media.content_fix import CONTENT_CATEGORIES, ContentFixes
from p2pchat.media.inspect import PrivacyReport, inspect_image
from p2pchat.media.samples import TOKYO_TOWER
from p2pchat.media.sanitize import SanitizePolicy
from p2pchat.media.vault import ViewOnceRefusedError
from p2pchat.media.worker import sanitize_isolated
from p2pchat.service import events as ev
from p2pchat.tui.demo.lesson_types import LessonContext, Picture, Presenter, Step, StepOutcome
from p2pchat.tui.demo.lesson_words import (
    LEAK_KEYS,
    describe_finding,
    exif_thumbnail,
    hidden_trailer_picture,
    human_time,
    mark,
    same_picture,
    short_names,
    xray_lines,
)
from p2pchat.tui.demo.lessons_trust import step_after, step_block, step_safety, step_wrong_code
from p2pchat.tui.widgets.transfer_bar import format_size

# What the sample must be shown to carry before it is sent.
SAMPLE_LEAKS: Final = frozenset({"gps", "device", "serial", "time", "thumbnail", "trailer"})

# ---------------------------------------------------------------- the steps


async def step_xray(ctx: LessonContext) -> StepOutcome:
    photo = ctx.photo()
    report = await asyncio.to_thread(inspect_image, photo)
    ctx.data["sample_report"] = report
    found = report.categories()
    gps = next((f for f in report.findings if f.category == "gps"), None)
    near_tower = gps is not None and _close_to(gps.detail, TOKYO_TOWER)
    held = found >= SAMPLE_LEAKS and near_tower
    pictures = [Picture(t("demo.pictures.photo"), photo)]
    thumbnail = exif_thumbnail(photo)
    if thumbnail:
        pictures.append(Picture(t("demo.pictures.thumbnail"), thumbnail))
    trailer = hidden_trailer_picture(photo)
    if trailer:
        pictures.append(Picture(t("demo.pictures.trailer"), trailer))
    lines = [t("demo.xray.heading", count=len(report.findings)), *xray_lines(report)]
    # The claim counts the same findings the heading does, so the two numbers agree.
    return StepOutcome(held, t("demo.claims.xray", count=len(report.findings)), lines, pictures)


def _close_to(detail: dict[str, Any], place: tuple[float, float]) -> bool:
    try:
        return (
            abs(float(detail["latitude"]) - place[0]) < 0.01
            and abs(float(detail["longitude"]) - place[1]) < 0.01
        )
    except (KeyError, TypeError, ValueError):
        return False


async def step_send(ctx: LessonContext) -> StepOutcome:
    stage, presenter = ctx.stage, ctx.presenter
    photo = ctx.photo()
    await presenter.send_text("alice", t("demo.script.alice_text"))
    prepared = await stage.services["alice"].prepare_image(photo)
    message_id = await presenter.send_image("alice", prepared)
    presenter.show_progress(t("demo.progress.waiting_bob"))
    received = await stage.wait_for(
        "bob", lambda e: isinstance(e, ev.ImageReceived) and e.message_id == message_id
    )
    assert isinstance(received, ev.ImageReceived)
    ctx.data["bob_copy"] = received.data
    arrived = await asyncio.to_thread(inspect_image, received.data)
    ctx.data["bob_report"] = arrived
    left_alice = await asyncio.to_thread(inspect_image, prepared.data)
    before: PrivacyReport | None = ctx.data.get("sample_report")
    if not isinstance(before, PrivacyReport):
        before = await asyncio.to_thread(inspect_image, photo)
    held = (
        bool(received.data)
        and not arrived.findings
        and not left_alice.findings
        and (received.width, received.height) == (prepared.width, prepared.height)
    )
    lines = [
        t("demo.sizes.heading"),
        t(
            "demo.sizes.row",
            what=t("demo.sizes.original"),
            size=format_size(len(photo)),
            width=before.width,
            height=before.height,
            leaks=len(before.findings),
        ),
        t(
            "demo.sizes.row",
            what=t("demo.sizes.sent"),
            size=format_size(len(prepared.data)),
            width=prepared.width,
            height=prepared.height,
            leaks=len(left_alice.findings),
        ),
        t(
            "demo.sizes.row",
            what=t("demo.sizes.arrived"),
            size=format_size(len(received.data)),
            width=received.width,
            height=received.height,
            leaks=len(arrived.findings),
        ),
        t("demo.sizes.removed_note", count=len(before.findings)),
        t("demo.xray.arrived_heading"),
        *xray_lines(arrived),
    ]
    pictures = [
        Picture(t("demo.pictures.original"), photo),
        Picture(t("demo.pictures.arrived"), received.data),
    ]
    return StepOutcome(held, t("demo.claims.send"), lines, pictures)


async def step_check(ctx: LessonContext) -> StepOutcome:
    bob_copy = ctx.data.get("bob_copy")
    if not bob_copy:
        await step_send(ctx)
        bob_copy = ctx.data["bob_copy"]
    held = await asyncio.to_thread(same_picture, ctx.photo(), bob_copy)
    lines = [
        t("demo.check.question"),
        t("demo.check.q1"),
        t("demo.check.q2"),
        t("demo.check.q3"),
        "",
        t("demo.check.cannot"),
        t("demo.check.faces"),
        t("demo.check.background"),
        t("demo.check.reflections"),
        t("demo.check.content"),
    ]
    return StepOutcome(
        held, t("demo.claims.check"), lines, [Picture(t("demo.pictures.arrived"), bob_copy)]
    )


async def step_blur(ctx: LessonContext) -> StepOutcome:
    """Alice's photo shows her face and a card: the X-ray warns, she blurs, Bob gets the blur."""
    stage, presenter = ctx.stage, ctx.presenter
    photo = resources.files("p2pchat.media").joinpath("face_card.jpg").read_bytes()
    alice = stage.services["alice"]
    seen = await alice.prepare_image(photo)
    warned = {"face_visible", "document_visible"} <= seen.report.categories()
    presenter.show_progress(t("demo.blur.blurring"))
    fixed = await alice.prepare_image(photo, fixes=ContentFixes(blur_faces=True, blur_text=True))
    message_id = await presenter.send_image("alice", fixed)
    presenter.show_progress(t("demo.progress.waiting_bob"))
    received = await stage.wait_for(
        "bob", lambda e: isinstance(e, ev.ImageReceived) and e.message_id == message_id
    )
    assert isinstance(received, ev.ImageReceived)
    # The same X-ray on Bob's copy (in the isolated worker, like every picture check).
    policy = SanitizePolicy(max_long_edge=None, scan_content=True)
    arrived = await asyncio.to_thread(sanitize_isolated, received.data, policy)
    shown_after = arrived.report.categories()
    still_shown = {"face_visible", "document_visible", "number_visible"} & shown_after
    held = warned and bool(received.data) and not still_shown
    lines = [
        t("demo.blur.warning"),
        *(f"  • {item}" for item in _content_lines(seen.report)),
        t("demo.blur.keys"),
        *(f"  • {item}" for item in _content_lines(fixed.report)),
        t("demo.blur.arrived") if not still_shown else t("demo.blur.still_there"),
        t("report.content.limits"),
    ]
    pictures = [
        Picture(t("demo.pictures.before_blur"), seen.data),
        Picture(t("demo.pictures.arrived"), received.data),
    ]
    return StepOutcome(held, t("demo.claims.blur"), lines, pictures)


def _content_lines(report: PrivacyReport) -> list[str]:
    shown = [f for f in report.findings if f.category in CONTENT_CATEGORIES]
    return PrivacyReport(report.format, report.width, report.height, shown).summary().split("; ")


async def step_view_once_send(ctx: LessonContext) -> StepOutcome:
    stage, presenter = ctx.stage, ctx.presenter
    prepared = await stage.services["alice"].prepare_image(ctx.photo())
    message_id = await presenter.send_image(
        "alice", prepared, view_once=True, view_seconds=ctx.view_seconds
    )
    presenter.show_progress(t("demo.progress.waiting_bob"))
    received = await stage.wait_for(
        "bob", lambda e: isinstance(e, ev.ImageReceived) and e.message_id == message_id
    )
    assert isinstance(received, ev.ImageReceived)
    vault = stage.services["bob"].vault
    vault_id = received.vault_id
    entry = vault.entry(vault_id) if vault_id else None
    ctx.data["view_once"] = (message_id, vault_id)
    held = received.view_once and received.data == b"" and entry is not None and not entry.opened
    lines = [
        t("demo.view_once.sealed", seconds=round(ctx.view_seconds)),
        t("demo.view_once.no_bytes", held=len(vault)),
    ]
    return StepOutcome(held, t("demo.claims.view_once_send"), lines)


async def step_view_once_open(ctx: LessonContext) -> StepOutcome:
    stage, presenter = ctx.stage, ctx.presenter
    if "view_once" not in ctx.data:
        await step_view_once_send(ctx)
    message_id, vault_id = ctx.data["view_once"]
    bob = stage.services["bob"]
    if vault_id is None or vault_id not in bob.vault:
        return StepOutcome(False, t("demo.claims.view_once_open"), [t("demo.view_once.missing")])
    presenter.show_progress(t("demo.view_once.opening"))
    # Exactly what Enter on Bob's sealed line does: the chat's viewer, its countdown, its wipe.
    shown = await presenter.open_view_once("bob", message_id)
    opened = await stage.wait_for(
        "alice", lambda e: isinstance(e, ev.Opened) and e.message_id == message_id
    )
    try:
        bob.vault.open(vault_id)
        reopened = True
    except ViewOnceRefusedError:
        reopened = False
    wiped = vault_id not in bob.vault and bob.vault.gone_reason(vault_id) == "viewed"
    held = shown and wiped and not reopened and isinstance(opened, ev.Opened)
    lines = [
        f"{mark(shown)} {t('demo.view_once.shown')}",
        f"{mark(wiped)} {t('demo.view_once.wiped')}",
        f"{mark(not reopened)} {t('demo.view_once.refused_again')}",
        f"{mark(isinstance(opened, ev.Opened))} {t('demo.view_once.receipt')}",
        "",
        t("demo.view_once.limits"),
        t("demo.view_once.screenshot"),
        t("demo.view_once.camera"),
    ]
    return StepOutcome(held, t("demo.claims.view_once_open"), lines)


STEPS: Final[tuple[Step, ...]] = (
    Step(1, "xray", step_xray),
    Step(2, "send", step_send),
    Step(3, "check", step_check),
    Step(3, "blur", step_blur),
    Step(4, "view_once_send", step_view_once_send),
    Step(4, "view_once_open", step_view_once_open),
    Step(5, "safety", step_safety),
    Step(5, "wrong_code", step_wrong_code),
    Step(6, "after", step_after),
    Step(6, "block", step_block),
)
LESSON_COUNT: Final = max(step.lesson for step in STEPS)

__all__ = [
    "LEAK_KEYS",
    "LESSON_COUNT",
    "STEPS",
    "LessonContext",
    "Picture",
    "Presenter",
    "Step",
    "StepOutcome",
    "describe_finding",
    "human_time",
    "short_names",
]
