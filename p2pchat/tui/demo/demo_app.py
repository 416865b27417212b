"""The demo app: Alice's and Bob's chat panes side by side, and the lesson panel below.

Owns the two-pane Textual app behind `p2pchat demo` and its ``--check`` mode.
The app starts a ``DemoStage`` (embedded mailbox, two real ChatServices on
loopback) and walks through ``lessons.STEPS``: PageDown / F6 runs and shows the
next step, PageUp / F5 shows the previous one again (a step runs once; going
back shows what it found). The presenter can type in either pane at any time.
``run_check`` drives this same app headlessly with Textual's pilot and reports
one line per step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer

from p2pchat.core.labels import safe_label
from p2pchat.i18n import set_language, t
from p2pchat.service import events as ev
from p2pchat.tui.demo.chat_pane import ChatPane
from p2pchat.tui.demo.lesson_panel import LessonPanel
from p2pchat.tui.demo.lessons import STEPS, LessonContext, Picture, StepOutcome
from p2pchat.tui.demo.stage import SIDES, DemoStage, Side
from p2pchat.tui.palette import open_palette

TUI_DIR: Final = Path(__file__).resolve().parents[1]
DEMO_CSS: Final = Path(__file__).with_name("demo.tcss")
STEP_TIMEOUT: Final = 90.0
CLOSE_TIMEOUT: Final = 5.0
INTERACTIVE_VIEW_SECONDS: Final = 6.0
CHECK_VIEW_SECONDS: Final = 1.0


def demo_bindings() -> list[Binding]:
    """Built when the app is made, so the footer speaks the language chosen at run time."""
    return [
        Binding("pagedown,f6", "next_step", t("demo.keys.next"), id="demo.next", priority=True),
        Binding("pageup,f5", "previous_step", t("demo.keys.back"), id="demo.back", priority=True),
        Binding("ctrl+q", "quit", t("keys.quit"), id="demo.quit", priority=True),
        Binding("ctrl+p", "command_palette", t("palette.key.label"), show=False, priority=True),
    ]


@dataclass
class StageEventPosted(Message):
    side: Side
    event: ev.ServiceEvent


@dataclass
class StageReady(Message):
    error: str = ""


class DemoApp(App[int]):
    """`p2pchat demo`: a privacy lesson with two real peers on one machine."""

    CSS_PATH = [TUI_DIR / "app.tcss", *([DEMO_CSS] if DEMO_CSS.exists() else [])]
    TITLE = "p2pchat demo"

    def __init__(
        self,
        *,
        language: str | None = None,
        renderer: str = "auto",
        view_seconds: float = INTERACTIVE_VIEW_SECONDS,
    ) -> None:
        if language is not None:
            set_language(language)
        super().__init__()
        self._bindings = BindingsMap(demo_bindings())
        self.renderer = renderer
        self.image_renderer = renderer  # read by the send dialog
        self.names: dict[Side, str] = {side: t(f"demo.names.{side}") for side in SIDES}
        self.stage = DemoStage(self.names, listener=self._stage_listener)
        self.ctx = LessonContext(self.stage, self, view_seconds=view_seconds)
        self.index = 0
        self.outcomes: dict[int, StepOutcome] = {}
        self.errors: dict[int, str] = {}
        self.stage_error = ""
        self._steps_started: set[int] = set()
        self._steps_done: dict[int, asyncio.Event] = {}
        self._stage_ready = asyncio.Event()
        self._step_running: int | None = None

    def action_command_palette(self) -> None:
        open_palette(self)

    def compose(self) -> ComposeResult:
        with Horizontal(id="demo-panes"):
            yield ChatPane("alice", self.names["alice"], self.names["bob"], renderer=self.renderer)
            yield ChatPane("bob", self.names["bob"], self.names["alice"], renderer=self.renderer)
        yield LessonPanel(renderer=self.renderer, id="lesson-panel")
        yield Footer()

    def on_mount(self) -> None:
        self.title = t("demo.title")
        self._start_stage()
        self._show(0)

    async def on_unmount(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stage.close(), CLOSE_TIMEOUT)

    def pane(self, side: Side) -> ChatPane:
        return self.query_one(f"#pane-{side}", ChatPane)

    @property
    def panel(self) -> LessonPanel:
        return self.query_one(LessonPanel)

    # ----- the stage ----------------------------------------------------------------
    @work(group="stage", exit_on_error=False, description="start stage")
    async def _start_stage(self) -> None:
        try:
            await self.stage.start()
        except Exception as error:  # any failure to pair is shown, never a crash
            self.post_message(StageReady(str(error) or type(error).__name__))
            return
        self.post_message(StageReady())

    @on(StageReady)
    def _on_stage_ready(self, message: StageReady) -> None:
        self.stage_error = message.error
        if message.error:
            for side in SIDES:
                self.pane(side).set_state(t("demo.pane.failed"))
                self.pane(side).notice(
                    t("demo.pane.pairing_failed", reason=safe_label(message.error, 300)),
                    "error",
                )
        else:
            for side in SIDES:
                self.pane(side).attach(self.stage)
            self.pane("alice").query_one("Composer").focus()
        self._stage_ready.set()

    def _stage_listener(self, side: Side, event: ev.ServiceEvent) -> None:
        self.post_message(StageEventPosted(side, event))

    @on(StageEventPosted)
    def _stage_event(self, message: StageEventPosted) -> None:
        self.pane(message.side).apply_event(message.event)

    # ----- stepping -----------------------------------------------------------------
    def action_next_step(self) -> None:
        if self._step_running is not None:
            self.notify(t("demo.panel.wait"))
            return
        if self.index + 1 < len(STEPS):
            self._show(self.index + 1)
        else:
            # PageDown on the last step used to do nothing at all.
            self.notify(t("demo.panel.last_step"))

    def action_previous_step(self) -> None:
        if self._step_running is not None:
            self.notify(t("demo.panel.wait"))
            return
        if self.index > 0:
            self._show(self.index - 1)

    def _show(self, index: int) -> None:
        self.index = index
        self.panel.show_step(index, self.outcomes.get(index), self.errors.get(index, ""))
        if index not in self._steps_started:
            self._steps_started.add(index)
            self._step_running = index
            self._run_step(index)

    def step_done(self, index: int) -> asyncio.Event:
        return self._steps_done.setdefault(index, asyncio.Event())

    @work(group="lesson", exit_on_error=False, description="run step")
    async def _run_step(self, index: int) -> None:
        step = STEPS[index]
        try:
            if step.key != "xray":  # only the X-ray works without the two peers
                await asyncio.wait_for(self._stage_ready.wait(), STEP_TIMEOUT)
                if self.stage_error:
                    raise RuntimeError(t("demo.panel.no_stage", reason=self.stage_error))
            outcome = await asyncio.wait_for(step.run(self.ctx), STEP_TIMEOUT)
        except Exception as error:  # a failing step is reported on the slide and by --check
            self.errors[index] = str(error) or type(error).__name__
        else:
            self.outcomes[index] = outcome
        self._step_running = None
        if self.index == index:
            self.panel.show_step(index, self.outcomes.get(index), self.errors.get(index, ""))
        self.step_done(index).set()

    async def wait_step(self, index: int, timeout: float = STEP_TIMEOUT * 2) -> None:
        await asyncio.wait_for(self.step_done(index).wait(), timeout)

    # ----- Presenter (what the lessons may do to the screen) -------------------------
    async def send_text(self, side: Side, text: str) -> str:
        return await self.pane(side).send_text(text)

    async def send_image(
        self, side: Side, prepared: Any, *, view_once: bool = False, view_seconds: float = 10.0
    ) -> str:
        return await self.pane(side).send_image(
            prepared, view_once=view_once, view_seconds=view_seconds
        )

    def show_pictures(self, pictures: list[Picture]) -> None:
        self.panel.show_pictures(pictures)

    def show_progress(self, text: str) -> None:
        self.panel.show_progress(text)

    def pane_notice(self, side: Side, text: str, level: str = "info") -> None:
        self.pane(side).notice(text, level)

    async def open_view_once(self, side: Side, message_id: str) -> bool:
        return await self.pane(side).open_view_once(message_id)


def make_demo_app(
    language: str | None = None,
    *,
    renderer: str = "auto",
    view_seconds: float = INTERACTIVE_VIEW_SECONDS,
) -> DemoApp:
    """The demo app, ready to ``run()`` (CLI) or ``run_test()`` (tests and ``--check``)."""
    return DemoApp(language=language, renderer=renderer, view_seconds=view_seconds)


def step_label(index: int) -> str:
    step = STEPS[index]
    return t(
        "demo.selfcheck.step",
        lesson=step.lesson,
        step=index + 1,
        steps=len(STEPS),
        title=step.title,
    )


async def run_check(language: str | None = None, *, emit: Callable[[str], None] = print) -> int:
    """Run every step headlessly through the real app; 0 only if every claim held."""
    app = make_demo_app(language, renderer="halfcell", view_seconds=CHECK_VIEW_SECONDS)
    all_held = True
    async with app.run_test(size=(180, 50)) as pilot:
        for index in range(len(STEPS)):
            if index:
                await pilot.press("pagedown")
            try:
                await app.wait_step(index)
            except TimeoutError:
                app.errors.setdefault(index, t("demo.selfcheck.timeout"))
            outcome = app.outcomes.get(index)
            held = outcome is not None and outcome.held
            all_held = all_held and held
            mark = t("demo.selfcheck.ok") if held else t("demo.selfcheck.fail")
            detail = outcome.claim if outcome is not None else app.errors.get(index, "")
            emit(f"{mark} {step_label(index)}: {detail}")
        await pilot.press("ctrl+q")
    emit(t("demo.selfcheck.all_held") if all_held else t("demo.selfcheck.some_failed"))
    return 0 if all_held else 1
