"""The shapes the demo's lessons share: a step, its outcome, the pictures it shows, and
what a step may ask of the screen (``Presenter``) and of the stage (``LessonContext``).

Kept apart from the steps themselves (``lessons.py``, ``lessons_trust.py``) so each
lesson module imports them without importing the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from p2pchat.i18n import t
from p2pchat.media.samples import demo_photo
from p2pchat.tui.demo.stage import DemoStage, Side


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
