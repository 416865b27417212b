"""The user's settings that front ends read or change: display name, language, notices.

Front ends never open ``settings.toml`` themselves: they read it with
``load_settings()`` and record a change with ``update_settings(**changes)``
(``store.settings`` does the file work, mode 0600, and raises
``SettingsError``, exit 2, for a value it cannot use). The STUN and TURN
defaults are here too, for the command line's network options.
"""

from __future__ import annotations

from p2pchat.store.settings import (
    DEFAULT_STUN_URLS,
    DEFAULT_TRANSIT_RELAY,
    Settings,
    SettingsError,
    load_settings,
    update_settings,
)

__all__ = [
    "DEFAULT_STUN_URLS",
    "DEFAULT_TRANSIT_RELAY",
    "Settings",
    "SettingsError",
    "load_settings",
    "update_settings",
]
