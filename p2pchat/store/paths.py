"""Where p2pchat keeps its files: one private configuration directory.

The directory comes from platformdirs (``user_config_dir("p2pchat")``) unless
the environment variable ``P2PCHAT_CONFIG_DIR`` names another one (tests always
set it to a temporary directory). A directory we create is mode 0700: it holds
the identity key and the contacts' reconnect secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

CONFIG_DIR_ENV: Final = "P2PCHAT_CONFIG_DIR"
APP_NAME: Final = "p2pchat"

IDENTITY_FILE: Final = "identity.key"
CONTACTS_FILE: Final = "contacts.json"
SETTINGS_FILE: Final = "settings.toml"

PRIVATE_DIR_MODE: Final = 0o700


def config_dir(*, create: bool = True) -> Path:
    """The configuration directory, created (mode 0700) when missing and ``create`` is set."""
    override = os.environ.get(CONFIG_DIR_ENV, "").strip()
    if override:
        directory = Path(override).expanduser().absolute()
    else:
        from platformdirs import user_config_dir

        directory = Path(user_config_dir(APP_NAME))
    if create and not directory.is_dir():
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask; the key directory must not be.
        directory.chmod(PRIVATE_DIR_MODE)
    return directory


def identity_path(*, create: bool = True) -> Path:
    """``identity.key`` in the configuration directory."""
    return config_dir(create=create) / IDENTITY_FILE


def contacts_path(*, create: bool = True) -> Path:
    """``contacts.json`` in the configuration directory."""
    return config_dir(create=create) / CONTACTS_FILE


def settings_path(*, create: bool = True) -> Path:
    """``settings.toml`` in the configuration directory."""
    return config_dir(create=create) / SETTINGS_FILE
