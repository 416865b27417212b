"""Progress bars for image transfers in both directions, with speed.

``TransferPanel`` holds one ``TransferBar`` per transfer in flight; the app feeds
it progress events and the chat screen's cancel binding asks it which transfer
is the newest one still running.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar

from p2pchat.i18n import t


def format_speed(bytes_per_second: float) -> str:
    """A human speed such as "1.2 MB/s" (decimal units, as people expect for networks)."""
    value = max(0.0, bytes_per_second)
    for unit in ("B/s", "kB/s", "MB/s"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B/s" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB/s"


def format_size(size: int) -> str:
    value = float(max(0, size))
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


class TransferBar(Horizontal):
    """One transfer: direction and size, a progress bar, and the current speed."""

    def __init__(self, message_id: str, direction: str, total_bytes: int) -> None:
        super().__init__(classes="transfer-bar")
        self.message_id = message_id
        self.direction = direction
        self.total_bytes = max(1, total_bytes)
        self.done_bytes = 0
        self.bytes_per_second = 0.0

    def compose(self) -> ComposeResult:
        key = "transfer.sending" if self.direction == "out" else "transfer.receiving"
        yield Label(t(key, size=format_size(self.total_bytes)), classes="transfer-label")
        yield ProgressBar(total=self.total_bytes, show_eta=False)
        yield Label("", classes="transfer-speed")

    def on_mount(self) -> None:
        self._show()

    def update_progress(self, done_bytes: int, total_bytes: int, bytes_per_second: float) -> None:
        # Progress can arrive before the children are mounted: keep it, show it when we can.
        self.total_bytes = max(1, total_bytes)
        self.done_bytes = min(done_bytes, self.total_bytes)
        self.bytes_per_second = bytes_per_second
        self._show()

    def _show(self) -> None:
        for bar in self.query(ProgressBar):
            bar.update(total=self.total_bytes, progress=self.done_bytes)
        for label in self.query(".transfer-speed").results(Label):
            label.update(format_speed(self.bytes_per_second) if self.done_bytes else "")


class TransferPanel(Vertical):
    """All transfers in flight; empty (and hidden by CSS) when there are none."""

    def start(self, message_id: str, direction: str, total_bytes: int) -> None:
        if self.find(message_id) is None:
            self.mount(TransferBar(message_id, direction, total_bytes))
        self.set_class(True, "-active")

    def progress(
        self, message_id: str, direction: str, done: int, total: int, speed: float
    ) -> None:
        bar = self.find(message_id)
        if bar is None:
            bar = TransferBar(message_id, direction, total)
            self.mount(bar)
            self.set_class(True, "-active")
        bar.update_progress(done, total, speed)

    def finish(self, message_id: str) -> None:
        bar = self.find(message_id)
        if bar is not None:
            bar.remove()
        if not [b for b in self.query(TransferBar) if b is not bar]:
            self.set_class(False, "-active")

    def find(self, message_id: str) -> TransferBar | None:
        for bar in self.query(TransferBar):
            if bar.message_id == message_id:
                return bar
        return None

    def newest(self) -> TransferBar | None:
        bars = list(self.query(TransferBar))
        return bars[-1] if bars else None
