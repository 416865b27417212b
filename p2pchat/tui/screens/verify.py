"""The verify screen: the 60-digit safety number in 12 groups of five.

Both people read their numbers to each other (in person or on a call they
trust); if they match, "Mark as verified" dismisses with True. A key change is
announced with a banner that cannot be missed.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from p2pchat.i18n import t

GROUP_DIGITS = 5
GROUPS = 12


def safety_groups(number: str) -> list[str]:
    """The digits of a safety number as twelve groups of five."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return [digits[i : i + GROUP_DIGITS] for i in range(0, len(digits), GROUP_DIGITS)][:GROUPS]


class VerifyScreen(ModalScreen[bool]):
    """Compare the safety number; dismisses True when the user marks it verified."""

    BINDINGS = [Binding("escape", "close", t("keys.close"), id="verify.close")]

    def __init__(
        self, safety_number: str, *, verified: bool = False, key_changed: bool = False
    ) -> None:
        super().__init__(id="verify")
        self.groups = safety_groups(safety_number)
        self.verified = verified
        self.key_changed = key_changed

    def compose(self) -> ComposeResult:
        with Vertical(id="verify-box"):
            if self.key_changed:
                yield Static(t("verify.key_changed_banner"), id="verify-key-changed")
            yield Static(t("verify.title"), id="verify-title")
            yield Static(t("verify.explain"), id="verify-explain")
            with Grid(id="safety-grid"):
                for group in self.groups:
                    yield Static(group, classes="safety-group")
            state = "verify.already_verified" if self.verified else "verify.not_verified"
            yield Static(t(state), id="verify-state")
            with Horizontal(id="verify-buttons"):
                yield Button(
                    t("verify.mark"), id="mark-verified", variant="success", disabled=self.verified
                )
                yield Button(t("verify.close"), id="verify-close")

    @on(Button.Pressed, "#mark-verified")
    def _mark(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#verify-close")
    def action_close(self) -> None:
        self.dismiss(False)
