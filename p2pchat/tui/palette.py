"""The command palette's entries (Ctrl+P): the app's own commands for the screen open.

Textual's palette lists "system commands"; the app offers its own here, named in
the current language: on the home screen a new invite and joining, in a chat
verify, send a photo (or a view-once photo), export, timer, block, rename, leave
and, once the conversation is over, back to home. Textual's "Screenshot" entry is
left out: it failed with no folder to write to, and a picture of the screen could
hold a view-once photo, which p2pchat never writes to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from textual.app import App, SystemCommand
from textual.command import CommandPalette
from textual.screen import Screen

from p2pchat.i18n import t

#: Textual's own entries kept: theme, the keys panel, quit, maximise. Matched by
#: callback name, not title, so a Textual translation cannot smuggle one back in.
DROPPED_SYSTEM_CALLBACKS = frozenset({"deliver_screenshot", "<lambda>"})
#: Textual's entries we keep, by callback name -> our catalogue key (so they speak Japanese).
TEXTUAL_COMMAND_KEYS = {
    "action_change_theme": "theme",
    "action_quit": "quit",
    "action_show_help_panel": "keys_panel",
    "action_hide_help_panel": "keys_panel_hide",
    "action_maximize": "maximize",
    "action_minimize": "minimize",
}


def _command(key: str, callback: Callable[[], object]) -> SystemCommand:
    return SystemCommand(t(f"palette.{key}"), t(f"palette.{key}_help"), callback)


def app_commands(app: Any, screen: Screen[Any]) -> Iterator[SystemCommand]:
    """The app's commands that make sense on ``screen``."""
    from p2pchat.tui.screens.chat import ChatScreen
    from p2pchat.tui.screens.home import HomeScreen

    if isinstance(screen, HomeScreen):
        yield _command("new_invite", screen.action_new_invite)
        yield _command("join", screen.action_focus_join)
    elif isinstance(screen, ChatScreen):
        if screen.ended:
            yield _command("back_home", screen.action_back_home)
        else:
            yield _command("verify", screen.action_verify)
            yield _command("send_photo", screen.action_send_image)
            yield _command("send_view_once", screen.action_send_view_once)
            yield _command("timer", lambda: screen.prefill("/timer "))
            yield _command("block", screen.action_block)
        yield _command("export", lambda: screen.prefill("/export "))
        yield _command("rename", screen.action_rename)
        yield _command("leave", screen.action_leave)
    yield _command("help", app.action_help)


def kept_system_commands(commands: Iterable[SystemCommand]) -> Iterator[SystemCommand]:
    """Textual's system commands without the screenshot entry, named in our language."""
    for command in commands:
        name = getattr(command.callback, "__name__", "")
        if name in DROPPED_SYSTEM_CALLBACKS:
            continue
        key = TEXTUAL_COMMAND_KEYS.get(name)
        if key is not None:
            command = SystemCommand(t(f"palette.{key}"), t(f"palette.{key}_help"), command.callback)
        yield command


def open_palette(app: App[Any]) -> None:
    """Textual's palette with its search prompt in our language (Textual's is English)."""
    if app.use_command_palette and not CommandPalette.is_open(app):
        app.push_screen(
            CommandPalette(placeholder=t("palette.key.placeholder"), id="--command-palette")
        )
