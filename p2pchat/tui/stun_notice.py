"""The first-run notice about STUN: what the default STUN server learns, and a way out.

Shown once (``stun_notice_shown`` in the settings) when STUN servers are in use:
one sentence on what the server sees, and a button that turns STUN off for this
run and in the settings file.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from p2pchat.core.errors import P2PChatError
from p2pchat.i18n import t
from p2pchat.tui.screens.confirm import ConfirmDialog

log = logging.getLogger(__name__)


@dataclass
class StunNotice:
    """What the notice needs: the settings to update and the config the app pairs with."""

    settings: Any  # store.settings.Settings
    config: Any  # service.ServiceConfig

    @property
    def server(self) -> str:
        return str(self.config.ice.stun_urls[0]).removeprefix("stun:")

    def dialog(self) -> ConfirmDialog:
        return ConfirmDialog(
            t("stun_notice.title"),
            t("stun_notice.text", server=self.server),
            t("stun_notice.turn_off"),
            cancel_label=t("stun_notice.keep"),
        )

    def answer(self, turn_off: bool) -> None:
        """Remember that the notice was shown; turn STUN off now and for good if asked."""
        from p2pchat.service.profile import update_settings

        changes: dict[str, Any] = {"stun_notice_shown": True}
        if turn_off:
            changes["stun_urls"] = ()
            self.config.ice = dataclasses.replace(self.config.ice, stun_urls=())
        try:
            update_settings(**changes)
        except (OSError, P2PChatError) as error:
            log.warning("could not save the settings: %s", error)


def stun_notice_for(settings: Any, config: Any) -> StunNotice | None:
    """A notice when STUN is in use and the user was not told yet; else None."""
    if settings is None or config is None or getattr(settings, "stun_notice_shown", True):
        return None
    if not config.ice.stun_urls or config.ice.transit_only:
        return None
    return StunNotice(settings, config)
