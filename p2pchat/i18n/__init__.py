"""User-visible texts of p2pchat in English and Japanese, from small TOML catalogues.

Owns the catalogue files (``en.toml``, ``ja.toml``), the current language and
locale detection. No Textual import: the CLI and the headless interface use it too.
Keys are dotted paths into the TOML tables (``home.new_invite``); values are
``str.format`` templates filled from keyword arguments.

Parsing a catalogue with ``tomllib`` takes about 10 ms of CPU (the parser's import
and a thousand lines), paid by every command before its first line of output. So
the flattened catalogue is also kept beside its TOML, in ``__pycache__`` as marshal
data holding a copy of the TOML bytes it came from: it is used only while those
bytes are unchanged, and rebuilt (when the folder is writable) after any edit.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Final, Literal

Language = Literal["en", "ja"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "ja")
DEFAULT_LANGUAGE: Final[Language] = "en"

_current: Language = DEFAULT_LANGUAGE
_FOLDER: Final = os.path.dirname(os.path.abspath(__file__))


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
    with open(os.path.join(_FOLDER, f"{language}.toml"), "rb") as file:
        source = file.read()
    cache_path = _cache_path(language)
    flat = _cached(cache_path, source)
    if flat is None:
        import tomllib  # only when the TOML changed since it was last parsed here

        flat = _flatten(tomllib.loads(source.decode("utf-8")))
        _keep(cache_path, source, flat)
    return flat


def _cache_path(language: str) -> str | None:
    tag = sys.implementation.cache_tag  # marshal's format is the interpreter's
    if tag is None:
        return None
    return os.path.join(_FOLDER, "__pycache__", f"{language}.toml.{tag}.marshal")


def _cached(path: str | None, source: bytes) -> dict[str, str] | None:
    """The catalogue kept at ``path``, if it was made from exactly ``source``."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            # Our own package folder, trusted as much as the .pyc files beside it.
            kept = marshal.loads(file.read())  # noqa: S302 - written only by _keep
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if (
        not isinstance(kept, tuple)
        or len(kept) != 2
        or kept[0] != source
        or not isinstance(kept[1], dict)
        or not all(type(k) is str and type(v) is str for k, v in kept[1].items())
    ):
        return None
    return kept[1]


def _keep(path: str | None, source: bytes, flat: dict[str, str]) -> None:
    """Write the parsed catalogue for the next process; nothing when the folder is read-only."""
    if path is None:
        return
    partial = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(partial, "wb") as file:
            file.write(marshal.dumps((source, flat)))
        os.replace(partial, path)  # whole or not at all, for a process reading it meanwhile
    except OSError:
        with suppress(OSError):
            os.unlink(partial)


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
