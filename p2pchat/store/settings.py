"""User settings: ``settings.toml`` in the configuration directory.

Every key is optional; a missing file means all defaults. Environment
variables override the file. Unknown keys are reported as a warning (a newer
p2pchat may have written them); a value of the wrong type or out of range is a
``SettingsError`` naming the key.

==================  ========================================  ==================================
key                 default                                   meaning
==================  ========================================  ==================================
mailbox_url         ws://relay.magic-wormhole.io:4000/v1      rendezvous (magic-wormhole mailbox
                                                              protocol); ``ws://`` or ``wss://``.
                                                              Env ``P2PCHAT_MAILBOX`` overrides.
stun_urls           stun:stun.l.google.com:19302,             STUN servers (``stun:host:port``):
                    stun:stun.cloudflare.com:3478             they learn your public IP address;
                                                              ``[]`` turns STUN off. Only the
                                                              first is used by aioice.
turn_url            unset                                     TURN relay (``turn:host:port?...``)
turn_username       unset                                     TURN long-term credential user
turn_credential     unset                                     TURN long-term credential password
turn_secret         unset                                     TURN REST-API shared secret (the
                                                              username/credential pair is then
                                                              derived from it)
relay_only          false                                     "hide my IP": only relayed paths
                                                              (TURN, else the transit relay)
transit_relay       tcp:transit.magic-wormhole.io:4001        magic-wormhole transit relay used
                                                              when no direct path opens; it sees
                                                              both IPs and ciphertext. ``""``
                                                              turns the fallback off.
stun_notice_shown   false                                     the app told you what STUN learns
max_long_edge       2048                                      photos are scaled down so their
                                                              longer side is at most this many
                                                              pixels (64..20000)
language            "auto"                                    "en", "ja" or "auto" (from locale)
view_seconds        10                                        default display time of a view-once
                                                              photo, in seconds (1..300)
display_name        "" (asked on the app's first run)         the name the other person sees (at
                                                              most 64 printable characters);
                                                              headless and scripts use --label
display_name_asked  false                                     whether the app asked for it yet
==================  ========================================  ==================================

The file holds TURN secrets, so ``save`` writes it mode 0600.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_USAGE
from p2pchat.core.labels import check_own_label
from p2pchat.store import paths
from p2pchat.store.atomic import read_limited, write_atomic

log = logging.getLogger(__name__)

DEFAULT_MAILBOX_URL: Final = "ws://relay.magic-wormhole.io:4000/v1"
#: Public STUN servers: they learn this computer's public IP address, as the mailbox does.
DEFAULT_STUN_URLS: Final = ("stun:stun.l.google.com:19302", "stun:stun.cloudflare.com:3478")
#: magic-wormhole's public transit relay (the same project runs the default mailbox).
DEFAULT_TRANSIT_RELAY: Final = "tcp:transit.magic-wormhole.io:4001"
MAILBOX_ENV: Final = "P2PCHAT_MAILBOX"
LANGUAGES: Final = ("auto", "en", "ja")
MAX_FILE_BYTES: Final = 256 * 1024
MAX_TEXT_CHARS: Final = 2048
MAX_STUN_URLS: Final = 16
LONG_EDGE_RANGE: Final = (64, 20_000)
VIEW_SECONDS_RANGE: Final = (1, 300)


class SettingsError(P2PChatError):
    """``settings.toml`` (or an environment override) holds a value p2pchat cannot use.

    A configuration error (exit 2): a command never falls back to the defaults then,
    since a default may be weaker than what the file asked for (``relay_only``).
    """

    reason = "settings"

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Settings:
    """The user's settings; see the module docstring for each key."""

    mailbox_url: str = DEFAULT_MAILBOX_URL
    stun_urls: tuple[str, ...] = DEFAULT_STUN_URLS
    turn_url: str | None = None
    turn_username: str | None = None
    turn_credential: str | None = field(default=None, repr=False)
    turn_secret: str | None = field(default=None, repr=False)
    relay_only: bool = False
    transit_relay: str = DEFAULT_TRANSIT_RELAY
    stun_notice_shown: bool = False
    max_long_edge: int = 2048
    language: str = "auto"
    view_seconds: int = 10
    display_name: str = ""
    display_name_asked: bool = False

    def __post_init__(self) -> None:
        _validate(self)


_FIELDS: Final = {f.name: f for f in dataclasses.fields(Settings)}


def load(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``path`` (default: the config directory's ``settings.toml``) plus env."""
    target = path if path is not None else paths.settings_path(create=False)
    env = os.environ if environ is None else environ
    data = b""
    try:
        data = read_limited(target, MAX_FILE_BYTES, f"The settings file {target}")
    except FileNotFoundError:
        values: dict[str, Any] = {}
    except ValueError as error:
        raise SettingsError(f"{error}.") from None
    except OSError as error:
        raise SettingsError(
            f"The settings file {target} cannot be read: {error.strerror or error}."
        ) from None
    else:
        values = _parse(data, target)
    override = env.get(MAILBOX_ENV, "").strip()
    if override:
        values["mailbox_url"] = override
    try:
        return Settings(**values)
    except SettingsError as error:
        source = f"{MAILBOX_ENV} or {target}" if override else str(target)
        line = _line_of(data, str(error))
        where = f"{source}, line {line}" if line else source
        raise SettingsError(f"{error} (in {where})") from None


def _line_of(data: bytes, message: str) -> int | None:
    """The line of the file setting the key a validation message names, if any."""
    text = data.decode("utf-8", errors="replace")
    for name in _FIELDS:
        if f"'{name}'" not in message:
            continue
        pattern = re.compile(rf"^\s*{name}\s*=", re.MULTILINE)
        found = pattern.search(text)
        if found is not None:
            return text.count("\n", 0, found.start()) + 1
    return None


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write ``settings`` as TOML (mode 0600); unset optional keys are left out."""
    target = path if path is not None else paths.settings_path()
    lines = ["# p2pchat settings; every key is optional (see `p2pchat.store.settings`)."]
    for name in _FIELDS:
        value = getattr(settings, name)
        if value is not None:
            lines.append(f"{name} = {_toml_value(value)}")
    write_atomic(target, ("\n".join(lines) + "\n").encode("utf-8"), 0o600)
    return target


def update(path: Path | None = None, **changes: Any) -> Settings:
    """Read the file as it is now, change ``changes``, write it back; the new settings.

    Read-modify-write, so two first-run answers (the STUN notice, the display name)
    never undo each other, and a line another program wrote meanwhile is kept.
    """
    current = load(path, environ={})
    updated = dataclasses.replace(current, **changes)
    save(updated, path)
    return updated


# The names other modules import (p2pchat/service/, cli/options.py).
load_settings = load
save_settings = save
update_settings = update


def _parse(data: bytes, target: Path) -> dict[str, Any]:
    import tomllib  # here: without a settings file, a command does not load the parser

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError(f"The settings file {target} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"The settings file {target} is not valid TOML: {error}.") from None
    except RecursionError:
        raise SettingsError(f"The settings file {target} is nested too deeply.") from None
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in _FIELDS:
            log.warning("%s: unknown setting %r ignored (a typo, or a newer p2pchat?)", target, key)
            continue
        values[key] = tuple(value) if key == "stun_urls" and isinstance(value, list) else value
    return values


def _validate(settings: Settings) -> None:
    def text(name: str, *, optional: bool) -> str | None:
        value = getattr(settings, name)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise SettingsError(f"Setting {name!r} must be a string, not {_type_name(value)}.")
        if len(value) > MAX_TEXT_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise SettingsError(f"Setting {name!r} is too long or has control characters.")
        return value

    def integer(name: str, bounds: tuple[int, int]) -> None:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"Setting {name!r} must be an integer, not {_type_name(value)}.")
        low, high = bounds
        if not low <= value <= high:
            raise SettingsError(f"Setting {name!r} must be between {low} and {high}.")

    mailbox = text("mailbox_url", optional=False)
    if mailbox is not None and not mailbox.startswith(("ws://", "wss://")):
        raise SettingsError(
            f"Setting 'mailbox_url' must start with ws:// or wss:// (got {mailbox!r})."
        )
    stun = settings.stun_urls
    if not isinstance(stun, tuple) or not all(isinstance(u, str) for u in stun):
        raise SettingsError("Setting 'stun_urls' must be a list of strings.")
    if len(stun) > MAX_STUN_URLS:
        raise SettingsError(f"Setting 'stun_urls' can list at most {MAX_STUN_URLS} servers.")
    for url in stun:
        if not url.startswith(("stun:", "stuns:")):
            raise SettingsError(f"STUN server {url!r} must start with stun: or stuns:.")
    turn = text("turn_url", optional=True)
    if turn is not None and not turn.startswith(("turn:", "turns:")):
        raise SettingsError(f"Setting 'turn_url' must start with turn: or turns: (got {turn!r}).")
    for name in ("turn_username", "turn_credential", "turn_secret"):
        text(name, optional=True)
    name_value = text("display_name", optional=False)
    if name_value:
        try:
            check_own_label(name_value)
        except P2PChatError as error:
            raise SettingsError(f"Setting 'display_name': {error}") from None
    for name in ("relay_only", "stun_notice_shown", "display_name_asked"):
        flag = getattr(settings, name)
        if not isinstance(flag, bool):
            raise SettingsError(f"Setting {name!r} must be true or false, not {_type_name(flag)}.")
    transit = text("transit_relay", optional=False)
    if transit and not _is_tcp_hint(transit):
        raise SettingsError(
            f"Setting 'transit_relay' must be tcp:HOST:PORT, or \"\" for none (got {transit!r})."
        )
    if settings.relay_only and turn is None and not transit:
        raise SettingsError(
            "Setting 'relay_only' needs a relay: set 'turn_url' or 'transit_relay' too."
        )
    integer("max_long_edge", LONG_EDGE_RANGE)
    integer("view_seconds", VIEW_SECONDS_RANGE)
    language = text("language", optional=False)
    if language not in LANGUAGES:
        raise SettingsError(f"Setting 'language' must be one of {', '.join(LANGUAGES)}.")


def _is_tcp_hint(hint: str) -> bool:
    kind, _, rest = hint.partition(":")
    host, _, port = rest.rpartition(":")
    return kind == "tcp" and bool(host) and port.isdigit() and 0 < int(port) < 65536


def _type_name(value: object) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return names.get(type(value), type(value).__name__)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif ord(char) < 32 or ord(char) == 127:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'
