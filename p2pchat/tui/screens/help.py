"""The help screen: every key binding and slash command, in the current language."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from p2pchat.i18n import t

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "help.enter"),
    ("Ctrl+J / Shift+Enter", "help.newline"),
    ("↑ / ↓", "help.history"),
    ("Ctrl+O", "help.send_image"),
    ("F2", "help.verify"),
    ("F8", "help.cancel_transfer"),
    ("Tab", "help.focus"),
    ("F1", "help.help"),
    ("Enter / R / B / Del", "chatcmd.help_contact_keys"),
    ("Ctrl+Q", "help.quit"),
)
COMMANDS: tuple[tuple[str, str], ...] = (
    ("/send PATH", "help.cmd_send"),
    ("/verify", "help.cmd_verify"),
    ("/export PATH [--force]", "chatcmd.help_export"),
    ("/timer off|30s|5m|1h|1d", "chatcmd.help_timer"),
    ("/block", "chatcmd.help_block"),
    ("/help", "help.cmd_help"),
    ("/quit", "help.cmd_quit"),
)


def help_text() -> Content:
    width = max(len(key) for key, _ in KEYS + COMMANDS) + 2
    parts: list[Content | tuple[str, str] | str] = [(t("help.keys_title") + "\n", "bold")]
    for key, text in KEYS:
        parts += [(key.ljust(width), "bold $accent"), t(text), "\n"]
    parts.append(("\n" + t("help.commands_title") + "\n", "bold"))
    for command, text in COMMANDS:
        parts += [(command.ljust(width), "bold $accent"), t(text), "\n"]
    parts.append("\n" + t("help.limits"))
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", t("keys.close"), id="help.close")]

    def __init__(self) -> None:
        super().__init__(id="help")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(t("help.title"), id="help-title")
            yield Static(help_text(), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
