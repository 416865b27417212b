"""User-visible texts of p2pchat in English and Japanese, from small TOML catalogues.

Owns the catalogue files (``en.toml``, ``ja.toml``), the current language and
locale detection. No Textual import: the CLI and the headless interface use it too.
Keys are dotted paths into the TOML tables (``home.new_invite``); values are
``str.format`` templates filled from keyword arguments.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Final, Literal

Language = Literal["en", "ja"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "ja")
DEFAULT_LANGUAGE: Final[Language] = "en"

_current: Language = DEFAULT_LANGUAGE


def _flatten(table: dict[str, object], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, path + "."))
        elif isinstance(value, str):
            flat[path] = value
        else:
            raise ValueError(
                f"i18n catalogue entry {path!r} must be text, not {type(value).__name__}"
            )
    return flat


@cache
def catalogue(language: Language) -> dict[str, str]:
    """Every key of one language's catalogue, flattened to dotted keys."""
    text = resources.files(__package__).joinpath(f"{language}.toml").read_text("utf-8")
    return _flatten(tomllib.loads(text))


def detect_language(environ: dict[str, str] | None = None) -> Language:
    """The language the locale asks for (LC_ALL, LC_MESSAGES, LANG, LANGUAGE), else English."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(variable, "")
        if value:
            return "ja" if value.lower().startswith("ja") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def set_language(language: str | None) -> Language:
    """Select the language for ``t()``; ``None`` or ``"auto"`` follows the locale."""
    global _current
    if language is None or language in ("", "auto"):
        _current = detect_language()
    elif language in LANGUAGES:
        _current = language
    else:
        raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    return _current


def get_language() -> Language:
    return _current


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Texts in ``language`` within the block (JSON for programs stays English)."""
    global _current
    previous, _current = _current, language
    try:
        yield
    finally:
        _current = previous


def t(key: str, **kwargs: object) -> str:
    """The text for ``key`` in the current language (English when a key is missing there).

    An unknown key comes back as the key itself, so a missing text is visible
    instead of crashing the interface.
    """
    template = catalogue(_current).get(key) or catalogue(DEFAULT_LANGUAGE).get(key)
    if template is None:
        return key
    if not kwargs:
        return template
    try:
        return template.format(**kwargs)
    except (KeyError, IndexError, ValueError):
        return template
