"""How an error reads to a person: its reason worded from the catalogues.

Owns the one translation of errors for every front end (the TUI, the CLI's human
output). An error names a stable ``reason`` and the ``params`` its sentence needs
(``core/errors.py``); this looks up ``errors.reason.<reason>``, or the reason
itself when it is a full dotted key (errors already worded from the catalogues).
English keeps the error's own message, the same one scripts and JSON read; another language uses its
catalogue, falling back from the error's own reason to its class's and its parents'.
Nothing is imported from the core: the i18n layer sits beside it, so the error is
read by its attributes only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from p2pchat.i18n import DEFAULT_LANGUAGE, catalogue, get_language, t

REASON_PREFIX = "errors.reason."


def _reasons(error: BaseException) -> Iterator[str]:
    """The error's own reason, then each class's up the hierarchy, most precise first."""
    own = getattr(error, "reason", None)
    if isinstance(own, str):
        yield own
    for cls in type(error).__mro__:
        reason = cls.__dict__.get("reason")
        if isinstance(reason, str):
            yield reason


class _Failure(Protocol):
    @property
    def message(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def params(self) -> Mapping[str, object]: ...


def failure_text(event: _Failure) -> str:
    """A service's ``Failed`` event in the reader's language, from the error's reason."""
    if get_language() == DEFAULT_LANGUAGE or not event.reason:
        return event.message
    key = event.reason if "." in event.reason else REASON_PREFIX + event.reason
    return t(key, **event.params) if key in catalogue(get_language()) else event.message


class _Notice(Protocol):
    @property
    def message(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def params(self) -> Mapping[str, object]: ...


def notice_text(notice: _Notice) -> str:
    """A service notice in the reader's language; its English ``message`` without a key."""
    return t(notice.key, **notice.params) if notice.key else notice.message


def error_text(error: BaseException) -> str:
    """One sentence for ``error`` in the current language."""
    english = str(error) or type(error).__name__
    language = get_language()
    if language == DEFAULT_LANGUAGE:
        return english
    params = getattr(error, "params", None)
    values = dict(params) if isinstance(params, Mapping) else {}
    words = catalogue(language)
    for reason in _reasons(error):
        key = reason if "." in reason else REASON_PREFIX + reason  # a dot: a full key
        if key in words:
            return t(key, **values)
    if isinstance(error, OSError):
        return t("errors.reason.os_error", path=error.filename or "", detail=error.strerror or "")
    return english
