"""The first-run question: which name the other person sees (skippable).

Asked once (``display_name_asked`` in the settings) when no display name is set:
the answer becomes ``display_name`` in ``settings.toml`` and the label of every
pairing from now on; the other side shows it, and pins it as the contact's name.
``/name NEW`` in a chat changes it later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import check_own_label
from p2pchat.i18n import t
from p2pchat.tui.screens.confirm import NameDialog

log = logging.getLogger(__name__)


@dataclass
class NamePrompt:
    """What the question needs: the config whose label the answer sets."""

    config: Any  # service.ServiceConfig

    def dialog(self) -> NameDialog:
        return NameDialog(t("name_prompt.title"), "")


def save_display_name(config: Any, name: str | None) -> str:
    """Remember ``name`` (None: skipped) and use it from the next pairing on.

    Returns the name as the peer will see it; raises ``InvalidLabel`` for a name
    that cannot be used (the settings are left as they were).
    """
    from p2pchat.service.profile import update_settings

    shown = check_own_label(name) if name else ""
    changes: dict[str, Any] = {"display_name_asked": True}
    if shown:
        changes["display_name"] = shown
        if config is not None:
            config.label = shown
    try:
        update_settings(**changes)
    except (OSError, P2PChatError) as error:
        log.warning("could not save the settings: %s", error)
    return shown


def name_prompt_for(settings: Any, config: Any) -> NamePrompt | None:
    """The question when no display name was set or asked for yet; else None."""
    if settings is None or config is None:
        return None
    if settings.display_name or settings.display_name_asked or config.label:
        return None
    return NamePrompt(config)
