"""Keys you can find (issue 16 §3): help generated from the bindings, focus back on
the composer after a viewer or dialog, the dialog's own footer, one key for
view-once, the app's commands in the palette (and no broken Screenshot entry),
and "back to home" once the other person has left."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from PIL import Image
from textual.binding import Binding
from textual.widgets import Checkbox, Footer

import p2pchat.tui
from p2pchat.service import events as ev
from p2pchat.tui.palette import app_commands, kept_system_commands
from p2pchat.tui.screens.help import HelpScreen, help_text, key_display
from p2pchat.tui.screens.home import HomeScreen
from p2pchat.tui.screens.image_viewer import ImageViewerScreen
from p2pchat.tui.screens.send_dialog import SendDialog
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.image_view import ImageView

from .helpers import GPS_PHOTO, real_prepare
from .test_offline import offline_app, open_chat


def _classes_with_bindings() -> list[type]:
    """Every class of the chat app (not the demo) that declares its own key bindings."""
    found = []
    for module_info in pkgutil.walk_packages(p2pchat.tui.__path__, "p2pchat.tui."):
        if ".demo" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                found.append(cls)
    return found


def test_help_lists_every_binding_of_every_screen_and_widget() -> None:
    shown = help_text().plain
    classes = _classes_with_bindings()
    assert len(classes) >= 10
    for cls in classes:
        for binding in cls.__dict__["BINDINGS"]:
            assert isinstance(binding, Binding)
            text = binding.tooltip or binding.description
            assert key_display(binding.key) in shown, (cls.__name__, binding.key)
            assert text in shown, (cls.__name__, binding.key, text)
    # The ones missing before: Ctrl+S, Ctrl+N, C, Esc, Ctrl+P.
    for key in ("Ctrl+S", "Ctrl+N", "C ", "Esc", "Ctrl+P", "Ctrl+T"):
        assert key in shown, key


def test_key_display_reads_like_a_keyboard() -> None:
    assert key_display("ctrl+s") == "Ctrl+S"
    assert key_display("escape,f1,q") == "Esc / F1 / Q"
    assert key_display("delete,x") == "Del / X"


async def test_focus_returns_to_the_composer_after_the_photo_viewer() -> None:
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        data = GPS_PHOTO.read_bytes()
        with Image.open(GPS_PHOTO) as img:
            width, height = img.size
        chat.apply_event(ev.ImageReceived("p1", data, "image/jpeg", width, height, False, 10.0))
        await pilot.pause()
        view = chat.query_one(ImageView)
        view.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ImageViewerScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is chat
        assert chat.query_one(Composer).has_focus
        await pilot.press(*"/export x.txt")
        assert chat.query_one(Composer).text == "/export x.txt"
        assert not isinstance(app.screen, ImageViewerScreen)


async def test_send_dialog_shows_its_own_keys_and_toggles_view_once_with_one_key() -> None:
    app = offline_app()
    async with app.run_test(size=(100, 40)) as pilot:
        dialog = SendDialog(GPS_PHOTO, real_prepare)
        await app.push_screen(dialog)
        await pilot.pause()
        footer = dialog.query_one(Footer)
        keys = {b.key for _, b, enabled, _ in footer.screen.active_bindings.values() if enabled}
        assert {"ctrl+s", "ctrl+t", "escape"} <= keys
        assert "ctrl+o" not in keys and "f2" not in keys  # the chat's keys are not offered
        box = dialog.query_one("#view-once", Checkbox)
        assert box.value is False
        await pilot.press("ctrl+t")
        assert box.value is True
        await pilot.press("ctrl+t")
        assert box.value is False


async def test_palette_offers_the_apps_commands_and_no_screenshot() -> None:
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        home_titles = [c.title for c in app_commands(app, app.screen)]
        assert isinstance(app.screen, HomeScreen)
        assert {"New invite", "Join with a code"} <= set(home_titles)
        chat = await open_chat(app, pilot)
        titles = {c.title for c in app.get_system_commands(chat)}
        for wanted in (
            "Verify the safety number",
            "Send a photo",
            "Send a view-once photo",
            "Export the conversation",
            "Disappearing messages",
            "Block this contact",
            "Rename this contact",
            "Leave and quit",
            "Help: every key",
        ):
            assert wanted in titles
        assert "Screenshot" not in titles
        assert "Theme" in titles  # Textual's harmless ones stay, in our words
        kept = {
            c.title
            for c in kept_system_commands(app.__class__.__mro__[1].get_system_commands(app, chat))
        }
        assert "Screenshot" not in kept


async def test_palette_export_prefills_the_composer() -> None:
    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        (export,) = [c for c in app_commands(app, chat) if c.title == "Export the conversation"]
        export.callback()
        await pilot.pause()
        assert chat.query_one(Composer).text == "/export "


async def test_back_to_home_is_offered_when_the_other_person_leaves() -> None:
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        chat = await open_chat(app, pilot)
        assert not chat.check_action("back_home", ())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is chat  # Esc does nothing while connected
        chat.apply_event(ev.PeerLeft("bye"))
        await pilot.pause()
        assert chat.check_action("back_home", ())
        titles = {c.title for c in app.get_system_commands(chat)}
        assert "Back to home" in titles
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_help_screen_has_a_footer_and_closes_with_escape() -> None:
    app = offline_app()
    async with app.run_test() as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.query(Footer)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_speaks_japanese() -> None:
    from p2pchat.i18n import set_language

    app = offline_app()
    async with app.run_test() as pilot:
        chat = await open_chat(app, pilot)
        set_language("ja")
        try:
            titles = {c.title for c in app.get_system_commands(chat)}
        finally:
            set_language("en")
        assert {"安全番号を照合", "テーマ", "退出して終了"} <= titles
        assert not {"Theme", "Keys", "Quit"} & titles
