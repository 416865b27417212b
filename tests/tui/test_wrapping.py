"""Japanese lines wrap between characters, and the help keeps its indent (issue 16 §2).

Seen before: ``相手に読み上げるか、C`` / ``キーでコピーしてください。`` (a break only at the
one ASCII space), ``削除したもの:`` alone on its line, and help texts wrapping back under
the keys. Checked on the real screens at 80x24 and 200x50, in the rendered cells.
"""

from __future__ import annotations

import itertools
import random

import pytest
from rich._wrap import divide_line as rich_divide_line
from rich.cells import cell_len
from textual.content import Content
from textual.widget import Widget

from p2pchat.i18n import t
from p2pchat.tui.cjk_wrap import NO_LINE_END, NO_LINE_START, divide_line
from p2pchat.tui.screens.help import HelpScreen
from p2pchat.tui.screens.invite import InviteScreen
from p2pchat.tui.screens.send_dialog import SendDialog

from .helpers import GPS_PHOTO, real_prepare
from .test_offline import offline_app

SIZES = [(80, 24), (200, 50)]


def rendered_lines(widget: Widget) -> list[str]:
    """What the widget shows, line by line, as drawn (padding stripped)."""
    return [widget.render_line(y).text.strip() for y in range(widget.size.height)]


def assert_filled(lines: list[str], width: int, text: str) -> None:
    """Every line but the last is full, up to one wide character (or a kept-together mark)."""
    lines = [line for line in lines if line]
    assert "".join(lines).replace(" ", "") == text.replace(" ", ""), (lines, text)
    for line in lines[:-1]:
        assert cell_len(line) >= width - 4, (width, lines)
    for previous, line in itertools.pairwise(lines):
        assert line[0] not in NO_LINE_START, lines
        assert previous[-1] not in NO_LINE_END, lines


def test_japanese_breaks_between_characters_but_not_before_closing_marks() -> None:
    text = "相手に読み上げるか、C キーでコピーしてください。使えるのは一度だけです。"
    for width in range(6, 40):
        lines = [line.plain.rstrip() for line in Content(text).wrap(width)]
        assert all(cell_len(line) <= width for line in lines), (width, lines)
        assert_filled(lines, width, text)


def test_latin_text_wraps_exactly_as_rich_does() -> None:
    rng = random.Random(16)
    alphabet = "abc defghij  klmnopqrstuvwxyz,.-()"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        width = rng.randint(1, 40)
        for fold in (True, False):
            assert divide_line(text, width, fold) == rich_divide_line(text, width, fold), text


def test_textual_calls_the_installed_line_breaking() -> None:
    """If a Textual upgrade stops calling these names, this fails instead of Japanese
    silently wrapping at spaces again."""
    import textual._wrap
    import textual.content

    import p2pchat.tui  # noqa: F401  (installs on import)
    from p2pchat.tui import cjk_wrap

    assert textual.content.divide_line is cjk_wrap.divide_line
    assert textual._wrap.chunks is cjk_wrap.area_chunks
    assert [line.plain for line in Content("写真を送る").wrap(4)] == ["写真", "を送", "る"]


@pytest.mark.parametrize("size", SIZES)
async def test_the_invite_hint_wraps_between_characters(size: tuple[int, int]) -> None:
    app = offline_app(language="ja")
    async with app.run_test(size=size) as pilot:
        await app.push_screen(InviteScreen())
        await pilot.pause()
        hint = app.screen.query_one("#invite-hint")
        lines = rendered_lines(hint)
        assert_filled(lines, hint.content_region.width, t("invite.copy_hint"))


@pytest.mark.parametrize("size", SIZES)
async def test_the_send_dialog_report_starts_on_its_own_first_line(size: tuple[int, int]) -> None:
    app = offline_app(language="ja")
    async with app.run_test(size=size) as pilot:
        await app.push_screen(SendDialog(GPS_PHOTO, real_prepare))
        for _ in range(4):
            await app.workers.wait_for_complete()
            await pilot.pause()
        report = app.screen.query_one("#send-report")
        lines = [line for line in rendered_lines(report) if line]
        assert lines[0].startswith("削除したもの: GPS 位置"), lines
        width = report.content_region.width
        # The report, then one line with the size: all report lines but its last are full.
        for line in lines[:-2]:
            assert cell_len(line) >= width - 4, (width, lines)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", ["en", "ja"])
async def test_help_texts_wrap_under_themselves(size: tuple[int, int], language: str) -> None:
    app = offline_app(language=language)
    async with app.run_test(size=size) as pilot:
        await app.push_screen(HelpScreen())
        await pilot.pause()
        rows = list(app.screen.query(".help-row"))
        assert len(rows) > 20
        keys_x = {row.query_one(".help-key").region.x for row in rows}
        texts_x = {row.query_one(".help-desc").region.x for row in rows}
        assert len(keys_x) == 1 and len(texts_x) == 1, (keys_x, texts_x)
        (text_x,) = texts_x
        wrapped = [row for row in rows if row.query_one(".help-desc").size.height > 1]
        if size[0] == 80:
            assert wrapped, "some help text is longer than one line at 80 columns"
        for row in wrapped:
            desc = row.query_one(".help-desc")
            assert desc.region.x == text_x
            # Nothing of the text is drawn in the key column.
            key = row.query_one(".help-key")
            for y in range(1, key.size.height):
                assert key.render_line(y).text.strip() == ""
