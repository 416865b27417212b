"""Lessons 5 and 6 of `p2pchat demo`: trust (the safety number, a wrong code) and what to
do after a photo was sent (block the person, live; keep evidence; get help).

Each step acts on the live stage like those of ``lessons.py`` and returns a
``StepOutcome`` whose claim is checked on what really happened.
"""

from __future__ import annotations

import asyncio
from typing import Final

from p2pchat.i18n import t
from p2pchat.tui.demo.lesson_types import LessonContext, StepOutcome
from p2pchat.tui.demo.lesson_words import mark
from p2pchat.tui.demo.stage import SIDES

SAFETY_DIGITS: Final = 60


def _digits(number: str | None) -> str:
    return "".join(ch for ch in number or "" if ch.isdigit())


def safety_groups(number: str) -> list[str]:
    digits = _digits(number)
    return [digits[i : i + 5] for i in range(0, len(digits), 5)]


async def step_safety(ctx: LessonContext) -> StepOutcome:
    stage = ctx.stage
    alice, bob = (_digits(stage.services[side].safety_number) for side in ("alice", "bob"))
    held = len(alice) == SAFETY_DIGITS and alice == bob
    lines = [
        t("demo.safety.side", name=stage.names["alice"]),
        "  " + " ".join(safety_groups(alice)),
        t("demo.safety.side", name=stage.names["bob"]),
        "  " + " ".join(safety_groups(bob)),
        t("demo.safety.match") if held else t("demo.safety.mismatch"),
        t("demo.safety.how"),
    ]
    for side in SIDES:
        ctx.presenter.pane_notice(
            side,
            t(
                "demo.safety.pane",
                number=" ".join(safety_groups(stage.services[side].safety_number or "")),
            ),
        )
    return StepOutcome(held, t("demo.claims.safety"), lines)


async def step_wrong_code(ctx: LessonContext) -> StepOutcome:
    ctx.presenter.show_progress(t("demo.progress.intruder"))
    result = await ctx.stage.wrong_code_attempt()
    held = result.both_refused
    intruder_line = (
        t("demo.wrong_code.intruder_refused")
        if result.intruder_error
        else t("demo.wrong_code.intruder_paired")
    )
    inviter_line = (
        t("demo.wrong_code.inviter_refused")
        if result.inviter_error
        else t("demo.wrong_code.inviter_paired")
    )
    ctx.presenter.pane_notice("alice", t("demo.wrong_code.pane"), "error" if held else "warning")
    lines = [
        t("demo.wrong_code.setup"),
        f"{mark(result.intruder_error is not None)} {intruder_line}",
        f"{mark(result.inviter_error is not None)} {inviter_line}",
        t("demo.wrong_code.why"),
    ]
    return StepOutcome(held, t("demo.claims.wrong_code"), lines)


async def step_after(ctx: LessonContext) -> StepOutcome:
    stage = ctx.stage
    path = await asyncio.to_thread(stage.export_transcript, "bob")
    exported = await asyncio.to_thread(path.read_text, "utf-8")
    alice_text = t("demo.script.alice_text")
    photo_lines = [line for line in exported.splitlines() if t("demo.export.photo_marker") in line]
    # One normal photo arrived (lesson 2); the view-once photo must not be in the export.
    sent_normal = stage.photos_kept("bob")
    held = alice_text in exported and len(photo_lines) == sent_normal
    ctx.presenter.pane_notice("bob", t("demo.after.pane", path=str(path)))
    lines = [
        t("demo.after.evidence", path=str(path)),
        t("demo.after.evidence_more"),
        t("demo.after.block"),
        t("demo.after.report"),
        t("demo.after.tell"),
        "",
        t("demo.after.help"),
        t("demo.after.help_local"),
    ]
    return StepOutcome(held, t("demo.claims.after", lines=len(exported.splitlines())), lines)


async def step_block(ctx: LessonContext) -> StepOutcome:
    """Alice blocks Bob, live: his next message and his next meeting are refused."""
    stage, presenter = ctx.stage, ctx.presenter
    presenter.show_progress(t("demo.block.blocking"))
    presenter.pane_notice("alice", t("demo.block.alice_pane", name=stage.names["bob"]), "warning")
    result = await stage.block_and_retry(t("demo.block.bob_words"))
    presenter.pane_notice("bob", t("demo.block.bob_pane", name=stage.names["alice"]), "error")
    lines = [
        t("demo.block.done", name=stage.names["bob"]),
        f"{mark(result.message_refused)} {t('demo.block.message_refused')}",
        f"{mark(result.refusal_type == 'ContactBlocked')} {t('demo.block.meeting_refused')}",
        f"{mark(not result.words_arrived)} {t('demo.block.nothing_shown')}",
        t("demo.block.how"),
        "",
        t("demo.after.the_end"),
    ]
    return StepOutcome(result.refused, t("demo.block.claim"), lines)
