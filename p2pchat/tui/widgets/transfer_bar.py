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

    def compose(self) -> ComposeResult:
        key = "transfer.sending" if self.direction == "out" else "transfer.receiving"
        yield Label(t(key, size=format_size(self.total_bytes)), classes="transfer-label")
        yield ProgressBar(total=self.total_bytes, show_eta=False)
        yield Label("", classes="transfer-speed")

    def update_progress(self, done_bytes: int, total_bytes: int, bytes_per_second: float) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, total_bytes), progress=min(done_bytes, total_bytes))
        self.query_one(".transfer-speed", Label).update(format_speed(bytes_per_second))


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
            bar.call_after_refresh(bar.update_progress, done, total, speed)
            return
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
