"""The lesson panel: where the class reads what the current step shows and whether it held.

Owns the presentation of one step: lesson and step numbers, title, the
explanation, the live lines a step produced (X-ray, sizes, safety numbers…),
up to three pictures side by side (drawn by the project's ``ImageView``), a
progress line, and the checked claim in green (held) or red (did not hold).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from p2pchat.core.labels import safe_label
from p2pchat.i18n import t
from p2pchat.tui.demo.lessons import LESSON_COUNT, STEPS, Picture, StepOutcome
from p2pchat.tui.widgets.image_view import ImageView

MAX_PICTURES = 3


class LessonPanel(Vertical):
    """The presenter's slide, written by the live system."""

    DEFAULT_CSS = """
    LessonPanel { height: 1fr; border: heavy $accent; padding: 0 1; }
    LessonPanel #lesson-heading { height: auto; text-style: bold; color: $accent; }
    LessonPanel #lesson-scroll { height: 1fr; }
    LessonPanel #lesson-body { height: auto; }
    LessonPanel #lesson-lines { height: auto; margin-top: 1; }
    LessonPanel #lesson-pictures { height: auto; max-height: 14; }
    LessonPanel .lesson-picture { width: 1fr; height: auto; }
    LessonPanel .lesson-picture ImageView { width: 100%; max-height: 12; }
    LessonPanel .lesson-picture ImageView .image-pixels { height: 10; }
    LessonPanel #lesson-progress { height: auto; color: $warning; }
    LessonPanel #lesson-claim { height: auto; text-style: bold; }
    LessonPanel #lesson-claim.-held { color: $success; }
    LessonPanel #lesson-claim.-failed { color: $error; }
    LessonPanel #lesson-hint { height: 1; color: $text-muted; }
    """

    def __init__(self, *, renderer: str = "auto", id: str | None = None) -> None:
        super().__init__(id=id)
        self.renderer = renderer
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="lesson-heading")
        with VerticalScroll(id="lesson-scroll"):
            yield Static("", id="lesson-body")
            yield Static("", id="lesson-lines")
            yield Horizontal(id="lesson-pictures")
        yield Static("", id="lesson-progress")
        yield Static("", id="lesson-claim")
        yield Static(t("demo.panel.hint"), id="lesson-hint")

    def heading_text(self) -> str:
        step = STEPS[self.index]
        return t(
            "demo.panel.heading",
            lesson=step.lesson,
            lessons=LESSON_COUNT,
            step=self.index + 1,
            steps=len(STEPS),
            title=step.title,
        )

    def show_step(self, index: int, outcome: StepOutcome | None, error: str = "") -> None:
        """Show step ``index``: its text, and its outcome once it ran."""
        self.index = index
        step = STEPS[index]
        self.query_one("#lesson-heading", Static).update(Content(self.heading_text()))
        self.query_one("#lesson-body", Static).update(Content(step.body))
        claim = self.query_one("#lesson-claim", Static)
        claim.remove_class("-held", "-failed")
        if outcome is None:
            self.show_lines([])
            self.show_pictures([])
            claim.update(
                Content(t("demo.panel.error", reason=safe_label(error, 300))) if error else ""
            )
            if error:
                claim.add_class("-failed")
                self.show_progress("")
            else:
                self.show_progress(t("demo.panel.running"))
            return
        self.show_lines(outcome.lines)
        self.show_pictures(outcome.pictures)
        self.show_progress("")
        key = "demo.panel.claim_held" if outcome.held else "demo.panel.claim_failed"
        claim.update(Content(t(key, claim=outcome.claim)))
        claim.add_class("-held" if outcome.held else "-failed")

    def show_lines(self, lines: list[str]) -> None:
        self.query_one("#lesson-lines", Static).update(Content("\n".join(lines)))

    def show_progress(self, text: str) -> None:
        self.query_one("#lesson-progress", Static).update(Content(text))

    def show_pictures(self, pictures: list[Picture]) -> None:
        row = self.query_one("#lesson-pictures", Horizontal)
        row.remove_children()
        # Children go in at construction: mounting into a box that is itself not yet
        # mounted raises MountError when the panel is busy.
        row.mount_all(
            [
                Vertical(
                    Static(Content(picture.caption), classes="picture-caption"),
                    ImageView(picture.data, renderer=self.renderer),
                    classes="lesson-picture",
                )
                for picture in pictures[:MAX_PICTURES]
            ]
        )
