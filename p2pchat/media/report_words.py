"""The short form of each finding, in the reader's language.

The findings modules write their own English ``short`` text (``"camera Canon EOS
REBEL T3i"``). For the summary line of the report (the send dialog, the chat, the
CLI), this module rebuilds that text from the finding's ``detail`` with a template
from the i18n catalogue (``report.short.<category>``), so a Japanese reader sees
``カメラ Canon EOS REBEL T3i``. A category without a template, or a detail without
the values a template needs, is told by its kind (``report.kind.<category>``,
"コメント"): never by the finding's English words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from p2pchat.i18n import catalogue, get_language, t

#: Detail keys that are not values to show (bookkeeping the findings modules add).
_NOT_VALUES = frozenset({"short", "i18n", "source", "where", "bytes", "vendor"})


def _values(detail: dict[str, Any]) -> str:
    values = [str(v) for k, v in detail.items() if k not in _NOT_VALUES and isinstance(v, str)]
    if not values:
        raise KeyError("no values")
    return ", ".join(dict.fromkeys(values))


def _coords(detail: dict[str, Any]) -> str:
    lat, lon = float(detail["latitude"]), float(detail["longitude"])
    return f"{abs(lat):.2f} {'N' if lat >= 0 else 'S'} {abs(lon):.2f} {'E' if lon >= 0 else 'W'}"


def _device(detail: dict[str, Any]) -> str:
    make, model = str(detail.get("make", "")), str(detail.get("model", ""))
    name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
    if not name.strip():
        raise KeyError("no device name")
    return name.strip()


Fill = Callable[[dict[str, Any]], tuple[str, dict[str, object]]]


def _gps(detail: dict[str, Any]) -> tuple[str, dict[str, object]]:
    if "latitude" in detail:
        return "gps", {"coords": _coords(detail)}
    return "direction", {"degrees": round(float(detail["direction_deg"]), 1)}


def _time(detail: dict[str, Any]) -> tuple[str, dict[str, object]]:
    values = [str(v) for k, v in detail.items() if k not in _NOT_VALUES]
    return ("time", {"when": human_time(values[0])}) if values else ("time_only", {})


#: EXIF's way of writing a time (``2024:04:06 10:15:30``; XMP uses ``-`` and ``T``).
EXIF_TIME: Final = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2})")


def human_time(value: str) -> str:
    """EXIF's ``2024:04:06 10:15:30`` as people write it (``6 April 2024, 10:15``, or
    ``2024年4月6日 10:15``); anything else is returned as it is."""
    match = EXIF_TIME.match(value.strip())
    if match is None:
        return value
    year, month, day, hour, minute = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        return value
    month_name = t("report.months").split(",")[month - 1].strip()
    return t(
        "report.when", year=year, month_name=month_name, day=day, time=f"{hour:02d}:{minute:02d}"
    )


def _frames(detail: dict[str, Any]) -> tuple[str, dict[str, object]]:
    if "frames" in detail:
        return "frames", {"frames": int(detail["frames"])}
    return "extra_images", {}


def _one(name: str, extract: Callable[[dict[str, Any]], object]) -> Fill:
    return lambda detail: ("", {name: extract(detail)})


def _label() -> Fill:
    return lambda detail: ("", {})


#: category -> the template (suffix of ``report.short.``; "" is the category) and its values.
_FILL: dict[str, Fill] = {
    "gps": _gps,
    "device": _one("name", _device),
    "serial": _one("values", _values),
    "time": _time,
    "software": _one("names", lambda d: ", ".join(str(s) for s in d["software"])),
    "person": _one("values", _values),
    "place": _one("values", _values),
    "faces": _one("names", lambda d: ", ".join(str(n) for n in d["names"])),
    "trailer": _one("bytes", lambda d: int(d["bytes"])),
    "frames": _frames,
    "text": _one("keyword", lambda d: str(d["keyword"])),
    "comment": _label(),
    "thumbnail": _label(),
    "icc": _label(),
    "exif": _label(),
    "xmp": _label(),
    "makernote": _label(),
    "history": _label(),
    "iptc": _label(),
    "photoshop": _label(),
    "session": _label(),
    "preview": _label(),
    "provenance": _label(),
    "unknown": _label(),
    "vendor": _label(),
    "partial": _one("format", lambda d: str(d["format"])),
    "geotiff": _label(),
}
#: Template names beyond the categories themselves.
EXTRA_TEMPLATES = ("direction", "time_only", "extra_images")


def kind_of(category: str) -> str:
    """What a category of finding is, as a noun in the current language."""
    key = f"report.kind.{category}"
    return t(key) if key in catalogue(get_language()) else t("report.kind.other")


def localized_short(category: str, detail: dict[str, Any]) -> str | None:
    """The short text in the current language, or None (English) to keep the finding's own."""
    if get_language() == "en":
        return None  # the findings' own English words are the reference wording
    fill = _FILL.get(category)
    if fill is None:
        return kind_of(category)
    try:
        name, values = fill(detail)
    except (KeyError, TypeError, ValueError, IndexError):
        return kind_of(category)
    key = f"report.short.{name or category}"
    if key not in catalogue(get_language()):
        return kind_of(category)
    return t(key, **values)
