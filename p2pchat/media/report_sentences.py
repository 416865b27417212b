"""Each finding as a whole sentence, and each sanitiser note, in the reader's language.

The findings modules write one English sentence per finding (``Finding.message``),
which stays the reference wording: English readers, the JSON of ``inspect --json``
and headless mode get it unchanged. Readers of another language get a sentence
built here from the catalogue: what the thing is (``report_words``' short form, the
values such as a camera model kept as data) and why it matters
(``report.why.<category>``). Every category has both, so no English word reaches a
Japanese reader, whatever the finding. The sanitiser's notes (``"downscaled to
800x600"``) are matched against their few known shapes and retold the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from p2pchat.i18n import catalogue, get_language, t
from p2pchat.media.policy import CONTENT_CATEGORIES
from p2pchat.media.report import Finding, PrivacyReport
from p2pchat.media.report_words import kind_of, localized_short

#: Categories whose detail values are the point of the finding (a comment's text).
_QUOTED_VALUES = frozenset({"comment"})
_NOT_VALUES = frozenset({"short", "i18n", "i18n_args", "source", "where", "bytes", "vendor"})


def describe(finding: Finding) -> str:
    """The finding as one sentence in the current language."""
    if get_language() == "en":
        return finding.message
    key = finding.detail.get("i18n")
    if isinstance(key, str) and key.startswith("report."):
        # A content finding names its own catalogue sentence.
        args = finding.detail.get("i18n_args")
        return t(key, **(args if isinstance(args, dict) else {})) + t("report.sentences.stop")
    what = localized_short(finding.category, finding.detail) or kind_of(finding.category)
    if finding.category in _QUOTED_VALUES:
        values = [
            str(v) for k, v in finding.detail.items() if k not in _NOT_VALUES and isinstance(v, str)
        ]
        if values:
            what = t("report.sentences.quoted", what=what, values=" / ".join(dict.fromkeys(values)))
    why_key = f"report.why.{finding.category}"
    why = t(why_key) if why_key in catalogue(get_language()) else t("report.why.other")
    return t("report.sentences.sentence", what=what, why=why)


def _downscaled(match: re.Match[str]) -> str:
    return t("report.note.downscaled", width=match["w"], height=match["h"])


def _converted(match: re.Match[str]) -> str:
    return t("report.note.converted", name=match["name"])


def _missing(match: re.Match[str]) -> str:
    return t("report.note.check_missing", name=match["name"])


def _failed(match: re.Match[str]) -> str:
    return t("report.note.check_failed", name=match["name"])


def _fixed(key: str) -> Callable[[re.Match[str]], str]:
    return lambda match: t(key)


#: Every note ``media/sanitize.py`` writes, by shape (a test keeps this list complete).
_NOTES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"turned upright using the EXIF orientation"), _fixed("report.note.upright")),
    (re.compile(r"kept the first frame only"), _fixed("report.note.first_frame")),
    (re.compile(r"downscaled to (?P<w>\d+)x(?P<h>\d+)"), _downscaled),
    (re.compile(r"the picture check is not available \(needs (?P<name>.*)\)"), _missing),
    (re.compile(r"the picture check could not run \((?P<name>.*)\)"), _failed),
    (re.compile(r"converted colours from (?P<name>.*) to sRGB"), _converted),
    (
        re.compile(r"the colour profile was unreadable; colours may look slightly off"),
        _fixed("report.note.bad_profile"),
    ),
    (
        re.compile(r"Stripping removes metadata, not what the picture shows .*"),
        _fixed("report.note.limits"),
    ),
)


def describe_note(note: str) -> str:
    """A sanitiser note in the current language (an unknown shape: a generic sentence)."""
    if get_language() == "en":
        return note
    for pattern, tell in _NOTES:
        match = pattern.fullmatch(note)
        if match is not None:
            return tell(match)
    return t("report.note.other")


def removed_summary(findings: Iterable[Finding]) -> tuple[str, ...]:
    """What a sanitiser removed as one summary line in the reader's language, or ().

    What the picture shows is left out: it was not removed (``content_fix``'s
    categories), and a receiver never gets it from the sender.
    """
    kept = [f for f in findings if f.category not in CONTENT_CATEGORIES]
    if not kept:
        return ()
    return (PrivacyReport("", 0, 0, kept).summary(),)


__all__ = ["describe", "describe_note", "removed_summary"]
