"""The help screen: every key binding and slash command, in the current language.

The key list is generated from the ``BINDINGS`` of the classes in ``HELP_SECTIONS``
(so a new binding shows up here by itself); a test checks that every class of the
TUI with bindings is listed. The composer's own keys (Enter, Ctrl+J, arrows) are
handled in its key handler, not as bindings, so they are listed by hand.
"""

from __future__ import annotations

from typing import Literal

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from p2pchat.i18n import t

#: Keys the composer handles itself (not Textual bindings).
COMPOSER_KEYS: tuple[tuple[str, str], ...] = (
    ("enter", "help.enter"),
    ("ctrl+j,shift+enter", "help.newline"),
    ("up,down", "help.history"),
    ("tab", "help.focus"),
)
#: The command palette is Textual's own binding on the App class.
PALETTE_KEY = ("ctrl+p", "help.palette")
COMMANDS: tuple[tuple[str, str], ...] = (
    ("/send PATH", "help.cmd_send"),
    ("/verify", "help.cmd_verify"),
    ("/export PATH [--force]", "chatcmd.help_export"),
    ("/timer off|30s|5m|1h|1d", "chatcmd.help_timer"),
    ("/block", "chatcmd.help_block"),
    ("/name NAME", "name_prompt.help"),
    ("/help", "help.cmd_help"),
    ("/quit", "help.cmd_quit"),
)
KEY_NAMES = {
    "escape": "Esc",
    "enter": "Enter",
    "delete": "Del",
    "tab": "Tab",
    "up": "↑",
    "down": "↓",
    "pageup": "PageUp",
    "pagedown": "PageDown",
}


def key_display(keys: str) -> str:
    """``"ctrl+s,escape"`` -> ``"Ctrl+S / Esc"``: the way people write keys."""
    shown = []
    for key in keys.split(","):
        parts = key.strip().split("+")
        *mods, last = parts
        name = KEY_NAMES.get(last, last.upper() if len(last) == 1 else last.capitalize())
        shown.append("+".join([*(m.capitalize() for m in mods), name]))
    return " / ".join(shown)


def _bindings(owner: type) -> list[Binding]:
    found: list[BindingType] = list(getattr(owner, "BINDINGS", []))
    return [b for b in found if isinstance(b, Binding)]


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(keys, text)]) for every screen and widget with keys."""
    # Imported here: the screens import this module to open the help.
    from p2pchat.tui.app_shell import AppShell
    from p2pchat.tui.screens.chat import ChatScreen
    from p2pchat.tui.screens.confirm import ConfirmDialog, NameDialog
    from p2pchat.tui.screens.file_picker import FilePicker
    from p2pchat.tui.screens.home import HomeScreen
    from p2pchat.tui.screens.image_viewer import ImageViewerScreen
    from p2pchat.tui.screens.invite import InviteScreen
    from p2pchat.tui.screens.key_changed import KeyChangedScreen
    from p2pchat.tui.screens.reconnect import ReconnectScreen
    from p2pchat.tui.screens.seal import SealDialog
    from p2pchat.tui.screens.send_dialog import SendDialog
    from p2pchat.tui.screens.verify import VerifyScreen
    from p2pchat.tui.screens.view_once import ViewOnceScreen
    from p2pchat.tui.widgets.contact_list import ContactList
    from p2pchat.tui.widgets.image_view import ImageView
    from p2pchat.tui.widgets.sealed import SealedBody

    groups: list[tuple[str, tuple[type, ...]]] = [
        ("help.section_everywhere", (AppShell,)),
        ("help.section_home", (HomeScreen, ContactList, InviteScreen, ReconnectScreen)),
        ("help.section_chat", (ChatScreen, ImageView, SealedBody)),
        ("help.section_send", (SendDialog, FilePicker)),
        (
            "help.section_dialogs",
            (
                VerifyScreen,
                ImageViewerScreen,
                ViewOnceScreen,
                KeyChangedScreen,
                ConfirmDialog,
                NameDialog,
                SealDialog,
                HelpScreen,
            ),
        ),
    ]
    sections = []
    for title, owners in groups:
        rows: list[tuple[str, str]] = []
        if title == "help.section_everywhere":
            rows.append((key_display(PALETTE_KEY[0]), t(PALETTE_KEY[1])))
        for owner in owners:
            for binding in _bindings(owner):
                text = binding.tooltip or binding.description
                row = (key_display(binding.key), text)
                if text and row not in rows:
                    rows.append(row)
        if title == "help.section_chat":
            rows[0:0] = [(key_display(keys), t(text)) for keys, text in COMPOSER_KEYS]
        sections.append((t(title), rows))
    return sections


#: One line of the help: a section title, a key (or command) and what it does, or a paragraph.
HelpLine = tuple[Literal["title", "key", "text"], str, str]


def help_lines() -> list[HelpLine]:
    """Everything the help says, in order; the screen and ``help_text`` lay it out."""
    lines: list[HelpLine] = [("title", "", t("help.keys_title"))]
    for title, rows in help_sections():
        lines.append(("title", "", title))
        lines += [("key", key, text) for key, text in rows]
    lines.append(("title", "", t("help.commands_title")))
    lines += [("key", command, t(text)) for command, text in COMMANDS]
    lines.append(("text", "", t("help.limits")))
    return lines


def key_column(lines: list[HelpLine]) -> int:
    return max(cell_len(key) for kind, key, _ in lines if kind == "key") + 2


def help_text() -> Content:
    """The whole help as one text (for a search, or a terminal with no layout)."""
    lines = help_lines()
    width = key_column(lines)
    parts: list[Content | tuple[str, str] | str] = []
    for kind, key, text in lines:
        if kind == "title":
            parts.append((("\n" if parts else "") + text + "\n", "bold"))
        elif kind == "key":
            parts += [(key.ljust(width), "bold $accent"), Content(text), "\n"]
        else:
            parts.append("\n" + text)
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", t("keys.close"), id="help.close")]

    def __init__(self) -> None:
        super().__init__(id="help")

    def compose(self) -> ComposeResult:
        lines = help_lines()
        width = key_column(lines)
        with VerticalScroll(id="help-box"):
            yield Static(t("help.title"), id="help-title")
            # A key and its text side by side: a long text wraps inside its own column,
            # under itself, instead of under the keys.
            with Vertical(id="help-text"):
                for kind, key, text in lines:
                    if kind == "key":
                        key_cell = Static(Content.styled(key, "bold $accent"), classes="help-key")
                        key_cell.styles.width = width
                        yield Horizontal(
                            key_cell, Static(Content(text), classes="help-desc"), classes="help-row"
                        )
                    else:
                        yield Static(Content(text), classes=f"help-{kind}")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
