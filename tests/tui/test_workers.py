"""Workers never carry their arguments into their description.

Without ``description=``, Textual's ``@work`` builds one from ``repr()`` of every
argument, on the event loop: for a 20 MB photo that is an 80 MB string and a
200 ms freeze (measured with scripts/bench_tui.py), and for ``_join`` it is the
invite code kept in memory as plain text. Every ``@work`` in the TUI names itself.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from textual.app import App, ComposeResult
from textual.message import Message
from textual.worker import Worker

from p2pchat.core import codes
from p2pchat.net.rtc import IceSettings
from p2pchat.service import ServiceConfig
from p2pchat.tui.app import make_app
from p2pchat.tui.widgets.image_view import ImageView

from .helpers import GPS_PHOTO

TUI = Path(__file__).resolve().parents[2] / "p2pchat" / "tui"


def work_decorators_without_description() -> list[str]:
    missing = []
    for path in sorted(TUI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                name = call.func if call else decorator
                if isinstance(name, ast.Name) and name.id == "work":
                    keywords = {k.arg for k in call.keywords} if call else set()
                    if "description" not in keywords:
                        missing.append(f"{path.relative_to(TUI)}:{node.lineno} {node.name}")
    return missing


def test_every_work_decorator_in_the_tui_names_itself() -> None:
    assert work_decorators_without_description() == []


def worker_descriptions() -> tuple[list[str], Callable[[Message], None]]:
    """A list, and a ``message_hook`` that appends each worker's description to it."""
    descriptions: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Worker.StateChanged):
            descriptions.append(message.worker.description)

    return descriptions, hook


class OneImage(App[None]):
    def compose(self) -> ComposeResult:
        yield ImageView(GPS_PHOTO.read_bytes(), renderer="halfcell")


async def test_decoding_a_photo_keeps_its_bytes_out_of_the_worker() -> None:
    descriptions, hook = worker_descriptions()

    app = OneImage()
    async with app.run_test(message_hook=hook) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one(ImageView).query("HalfcellImage")
    assert descriptions, "no decode worker ran"
    assert all(len(d) < 100 and "\\x" not in d for d in descriptions), descriptions


async def test_the_join_worker_does_not_hold_the_code(embedded_mailbox: str) -> None:
    code = str(codes.generate("7"))
    secret_word = code.split("-")[1]
    descriptions, hook = worker_descriptions()

    config = ServiceConfig(mailbox_url=embedded_mailbox, ice=IceSettings(), loopback=True)
    app = make_app(config, start="join", code=code, language="en", image_renderer="halfcell")
    async with app.run_test(message_hook=hook) as pilot:
        for _ in range(50):
            if "join" in descriptions:
                break
            await pilot.pause(0.02)
    assert "join" in descriptions, descriptions
    assert not [d for d in descriptions if secret_word in d], descriptions


async def test_a_photo_decoded_after_its_message_went_is_dropped_quietly() -> None:
    """A message removed while its photo decodes must not crash the app.

    Seen once on a loaded machine: a lesson cleared the chat while a decode was in
    flight; the view, cut off from the app but not yet pruned, got its Decoded.
    A view that is not attached is exactly that state.
    """
    app = OneImage()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        orphan = ImageView(GPS_PHOTO.read_bytes(), renderer="halfcell")
        assert not orphan.is_attached
        await orphan.on_image_view_decoded(ImageView.Decoded(Image.new("RGB", (8, 8)), ""))
        await orphan.on_image_view_decoded(ImageView.Decoded(None, "broken"))
        await pilot.pause()
        assert app.is_running and not orphan.children
