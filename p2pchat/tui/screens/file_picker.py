"""A file picker for photos: a directory tree that shows only folders and images."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Static

from p2pchat.i18n import t

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif", ".avif"}
)


class ImageTree(DirectoryTree):
    """Folders and image files only; hidden entries are left out."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
                    yield path
            except OSError:
                continue


class FilePicker(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", t("keys.cancel"), id="picker.cancel")]

    def __init__(self, start: Path) -> None:
        super().__init__(id="file-picker")
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(t("picker.title"), id="picker-title")
            yield Static(Content(str(self.start)), id="picker-path")
            yield ImageTree(self.start, id="picker-tree")
            yield Static(t("picker.hint"), id="picker-hint")

    def on_mount(self) -> None:
        self.query_one(ImageTree).focus()

    @on(DirectoryTree.FileSelected)
    def _selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(event.path)

    def action_cancel(self) -> None:
        self.dismiss(None)
