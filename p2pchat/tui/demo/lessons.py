"""The six lessons of `p2pchat demo`, as steps that act on the live stage and check a claim.

Owns what each step does and what it claims. A step's ``run`` performs the
step for real (inspect the sample, send it from Alice to Bob, open a view-once
photo, try a wrong code, export the conversation) and returns a
``StepOutcome``: the lines shown to the class, and whether the step's claim
held on the live state. The app shows outcomes; ``--check`` prints them. All
texts come from the ``[demo]`` table of the i18n catalogues.
"""

from __future__ import annotations

import asyncio
import io
import re
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, Protocol

from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.i18n import t
from p2pchat.media.content_fix import CONTENT_CATEGORIES, ContentFixes
from p2pchat.media.inspect import Finding, PrivacyReport, format_coordinates, inspect_image
from p2pchat.media.samples import TOKYO_TOWER, demo_photo
from p2pchat.media.sanitize import SanitizePolicy
from p2pchat.media.vault import ViewOnceRefusedError
from p2pchat.media.worker import sanitize_isolated
from p2pchat.service import events as ev
from p2pchat.tui.demo.stage import SIDES, DemoStage, Side
from p2pchat.tui.widgets.transfer_bar import format_size

# What the sample must be shown to carry before it is sent.
SAMPLE_LEAKS: Final = frozenset({"gps", "device", "serial", "time", "thumbnail", "trailer"})
SAFETY_DIGITS: Final = 60
# Mean difference per channel (0-255) below which two renderings show the same picture.
SAME_PICTURE_THRESHOLD: Final = 12.0
SHORT: Final = 3  # the TIFF type of a 16-bit value
EXIF_TIME: Final = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})")
LEAK_KEYS: Final = frozenset(
    {
        "gps",
        "device",
        "serial",
        "time",
        "thumbnail",
        "trailer",
        "software",
        "exif",
        "xmp",
        "icc",
        "comment",
        "makernote",
        "faces",
        "person",
        "place",
        "history",
        "frames",
    }
)


@dataclass(frozen=True)
class Picture:
    """Sanitised or sample JPEG bytes to show in the lesson panel, with a caption."""

    caption: str
    data: bytes


@dataclass
class StepOutcome:
    held: bool
    claim: str
    lines: list[str] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)


class Presenter(Protocol):
    """What the lessons need from the screen (the demo app implements it)."""

    async def send_text(self, side: Side, text: str) -> str: ...

    async def send_image(
        self, side: Side, prepared: Any, *, view_once: bool = False, view_seconds: float = 10.0
    ) -> str: ...

    def show_pictures(self, pictures: list[Picture]) -> None: ...

    def show_progress(self, text: str) -> None: ...

    def pane_notice(self, side: Side, text: str, level: str = "info") -> None: ...

    async def open_view_once(self, side: Side, message_id: str) -> bool: ...


@dataclass
class LessonContext:
    stage: DemoStage
    presenter: Presenter
    view_seconds: float = 6.0
    data: dict[str, Any] = field(default_factory=dict)

    def photo(self) -> bytes:
        if "photo" not in self.data:
            self.data["photo"] = demo_photo()
        return bytes(self.data["photo"])


StepRun = Callable[[LessonContext], Awaitable[StepOutcome]]


@dataclass(frozen=True)
class Step:
    lesson: int
    key: str
    run: StepRun

    @property
    def title(self) -> str:
        return t(f"demo.steps.{self.key}.title")

    @property
    def body(self) -> str:
        return t(f"demo.steps.{self.key}.body")


# ---------------------------------------------------------------- plain words


def describe_finding(finding: Finding) -> str:
    """One leak in plain words of the current language."""
    detail = finding.detail
    category = finding.category if finding.category in LEAK_KEYS else "other"
    values = {
        "coords": _coords(detail),
        "model": detail.get("model") or detail.get("make") or "?",
        "serial": _first_value(detail, exclude={"short"}),
        "when": human_time(str(detail.get("taken") or _first_value(detail, exclude={"short"}))),
        "bytes": detail.get("bytes", "?"),
        "software": ", ".join(detail.get("software") or []) or "?",
        "what": finding.message,
    }
    return t(f"demo.leak.{category}", **values)


def human_time(value: str) -> str:
    """EXIF's ``2024:04:06 10:15:30`` as people write it (``6 April 2024, 10:15``);
    anything else is returned as it is."""
    match = EXIF_TIME.match(value.strip())
    if match is None:
        return value
    year, month, day, hour, minute = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        return value
    month_name = t("demo.months").split(",")[month - 1].strip()
    return t(
        "demo.when",
        year=year,
        month_name=month_name,
        day=day,
        time=f"{hour:02d}:{minute:02d}",
    )


def _coords(detail: dict[str, Any]) -> str:
    try:
        return format_coordinates(float(detail["latitude"]), float(detail["longitude"]))
    except (KeyError, TypeError, ValueError):
        return "?"


def _first_value(detail: dict[str, Any], exclude: set[str]) -> str:
    for key, value in detail.items():
        if key not in exclude:
            return str(value)
    return "?"


def short_names(report: PrivacyReport) -> str:
    """ "location, camera, serial number…": the categories of a report in the current language."""
    seen: list[str] = []
    for finding in report.findings:
        category = finding.category if finding.category in LEAK_KEYS else "other"
        name = t(f"demo.short.{category}")
        if name not in seen:
            seen.append(name)
    return t("demo.short.separator").join(seen)


def xray_lines(report: PrivacyReport) -> list[str]:
    if not report.findings:
        return [t("demo.xray.nothing")]
    return [f"• {describe_finding(finding)}" for finding in report.findings]


# ---------------------------------------------------------------- hidden pictures


def exif_thumbnail(data: bytes) -> bytes | None:
    """The JPEG thumbnail of the first EXIF block (IFD1), or None."""
    start = data.find(b"Exif\x00\x00")
    if start < 0:
        return None
    try:
        return _ifd1_jpeg(data[start + 6 : start + 6 + 65_536])
    except struct.error:
        return None


def _ifd1_jpeg(tiff: bytes) -> bytes | None:
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, ifd0)
    (ifd1,) = struct.unpack_from(order + "I", tiff, ifd0 + 2 + 12 * count)
    if not ifd1:
        return None
    (count,) = struct.unpack_from(order + "H", tiff, ifd1)
    offset = length = 0
    for index in range(count):
        tag, kind, _n, value = struct.unpack_from(order + "HHI4s", tiff, ifd1 + 2 + 12 * index)
        value = struct.unpack_from(order + ("H" if kind == SHORT else "I"), value)[0]
        if tag == 0x0201:
            offset = value
        elif tag == 0x0202:
            length = value
    if not offset or not length or offset + length > len(tiff):
        return None
    return tiff[offset : offset + length]


def hidden_trailer_picture(data: bytes) -> bytes | None:
    """A JPEG hidden after the image's end, as in the sample (the last start-of-image)."""
    start = data.rfind(b"\xff\xd8\xff")
    return data[start:] if start > 0 and data.endswith(b"\xff\xd9") else None


def same_picture(first: bytes, second: bytes) -> bool:
    """Whether two JPEGs show the same picture (small renderings compared pixel by pixel)."""
    try:
        with Image.open(io.BytesIO(first)) as a, Image.open(io.BytesIO(second)) as b:
            small_a = a.convert("RGB").resize((64, 48))
            small_b = b.convert("RGB").resize((64, 48))
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageRejected(f"cannot compare pictures: {error}") from error
    pixels_a, pixels_b = small_a.tobytes(), small_b.tobytes()
    difference = sum(abs(x - y) for x, y in zip(pixels_a, pixels_b, strict=True))
    return difference / len(pixels_a) < SAME_PICTURE_THRESHOLD


def _mark(held: bool) -> str:
    return "✔" if held else "✘"


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
        f"{_mark(shown)} {t('demo.view_once.shown')}",
        f"{_mark(wiped)} {t('demo.view_once.wiped')}",
        f"{_mark(not reopened)} {t('demo.view_once.refused_again')}",
        f"{_mark(isinstance(opened, ev.Opened))} {t('demo.view_once.receipt')}",
        "",
        t("demo.view_once.limits"),
        t("demo.view_once.screenshot"),
        t("demo.view_once.camera"),
    ]
    return StepOutcome(held, t("demo.claims.view_once_open"), lines)


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
        f"{_mark(result.intruder_error is not None)} {intruder_line}",
        f"{_mark(result.inviter_error is not None)} {inviter_line}",
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
        "",
        t("demo.after.the_end"),
    ]
    return StepOutcome(held, t("demo.claims.after", lines=len(exported.splitlines())), lines)


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
)
LESSON_COUNT: Final = max(step.lesson for step in STEPS)
