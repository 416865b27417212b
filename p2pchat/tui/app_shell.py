"""The app's frame: its stylesheet, its title and the keys that work on every screen.

Apart from ``app.py`` so that the help screen can list these keys without
importing the app (which imports the screens, which open the help).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import App
from textual.binding import Binding, BindingType

from p2pchat.i18n import t

Phase = Literal["home", "inviting", "joining", "reconnecting", "chat", "closing"]
PAIRING_PHASES: tuple[Phase, ...] = ("inviting", "joining", "reconnecting")


class AppShell(App[int]):
    """The frame ``P2PChatApp`` is built on (no behaviour of its own)."""

    CSS_PATH = "app.tcss"
    TITLE = "p2pchat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", t("keys.quit"), id="app.quit", priority=True),
        Binding("f1", "help", t("keys.help"), id="app.help", show=False),
        # Textual's own palette binding is labelled "palette" in English whatever the language.
        Binding(
            "ctrl+p",
            "command_palette",
            t("palette.key.label"),
            show=False,
            priority=True,
            tooltip=t("help.palette"),
            id="app.palette",
        ),
    ]
