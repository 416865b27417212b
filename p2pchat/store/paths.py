"""Where p2pchat keeps its files: one private configuration directory.

The directory comes from platformdirs (``user_config_dir("p2pchat")``) unless
the environment variable ``P2PCHAT_CONFIG_DIR`` names another one (tests always
set it to a temporary directory). A directory we create is mode 0700: it holds
the identity key and the contacts' reconnect secrets. A folder that cannot be
created or written (a file in its place, a read-only or full disk) is a
``ConfigUnavailable``: a configuration error (exit 2), one sentence, no traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_USAGE

CONFIG_DIR_ENV: Final = "P2PCHAT_CONFIG_DIR"
APP_NAME: Final = "p2pchat"

IDENTITY_FILE: Final = "identity.key"
CONTACTS_FILE: Final = "contacts.json"
SETTINGS_FILE: Final = "settings.toml"

PRIVATE_DIR_MODE: Final = 0o700
_FIX_HINT: Final = f"Set {CONFIG_DIR_ENV} to a folder you can write, or fix this one."


class ConfigUnavailable(P2PChatError):
    """The configuration folder (or a file in it) cannot be created or written."""

    reason = "config_unavailable"

    exit_code = EXIT_USAGE  # a configuration problem


def unwritable(what: str, error: OSError) -> ConfigUnavailable:
    """The error for a failed write of ``what`` (a sentence naming the reason)."""
    return ConfigUnavailable(f"{what} could not be saved: {_reason(error)}. {_FIX_HINT}")


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def config_dir(*, create: bool = True) -> Path:
    """The configuration directory, created (mode 0700) when missing and ``create`` is set."""
    override = os.environ.get(CONFIG_DIR_ENV, "").strip()
    if override:
        directory = Path(override).expanduser().absolute()
    else:
        from platformdirs import user_config_dir

        directory = Path(user_config_dir(APP_NAME))
    if create and not directory.is_dir():
        if directory.exists() or directory.is_symlink():
            raise ConfigUnavailable(
                f"The configuration folder {directory} is not a folder. {_FIX_HINT}"
            )
        try:
            directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            # mkdir's mode is filtered by the umask; the key directory must not be.
            directory.chmod(PRIVATE_DIR_MODE)
        except OSError as error:
            raise ConfigUnavailable(
                f"The configuration folder {directory} could not be created: "
                f"{_reason(error)}. {_FIX_HINT}"
            ) from None
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
