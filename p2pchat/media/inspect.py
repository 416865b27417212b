"""What a photo carries besides its pixels: the metadata X-ray behind `p2pchat inspect`.

``inspect_image(data)`` never decodes pixels. It walks the container (JPEG segments,
PNG chunks, GIF blocks, RIFF chunks) itself with bounds checks, reads EXIF with
Pillow, XMP with plain regular expressions (no XML parser on hostile input), and
turns what it finds into ``Finding``s whose messages a person understands. Any
parse error becomes a finding or an ``ImageRejected``: never an uncaught exception.

This module is the public entry and owns only the order in which the readers run;
the readers live beside it:

- ``report``: ``Finding``, ``PrivacyReport`` and the plain-words summary;
- ``collector``: the accumulator the readers share, and their wording helpers;
- ``containers``: size limits, header-only opening, the bounds-checked walkers;
- ``container_findings``: comments, text chunks, ICC, thumbnails, frames, trailers;
- ``exif_findings``: EXIF, GPS and MakerNote;
- ``xmp_findings``: XMP, IPTC and Photoshop resources;
- ``other_formats``: the formats without a walker (PSD, EPS, JPEG 2000, PNM...).
"""

from __future__ import annotations

import warnings

from PIL import Image, UnidentifiedImageError

from p2pchat.core.errors import ImageRejected
from p2pchat.media.collector import FindingCollector, as_label, format_coordinates
from p2pchat.media.container_findings import analyse_icc, read_container, report_structure
from p2pchat.media.containers import (
    MAX_PIXELS,
    MAX_SIDE,
    MAX_XMP_SCAN,
    bomb_refusal,
    open_header,
    register_heif,
    sniff_format,
)
from p2pchat.media.exif_findings import report_exif
from p2pchat.media.iptc import analyse_iptc
from p2pchat.media.other_formats import report_other_format
from p2pchat.media.previews import report_previews
from p2pchat.media.report import Finding, PrivacyReport, Severity, importance
from p2pchat.media.segments import report_segments
from p2pchat.media.xmp_findings import (
    MAX_LISTED_VALUES,
    analyse_photoshop,
    report_xmp,
)

__all__ = [
    "MAX_INSPECT_BYTES",
    "MAX_LISTED_VALUES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MAX_XMP_SCAN",
    "Finding",
    "PrivacyReport",
    "Severity",
    "format_coordinates",
    "inspect_image",
]

MAX_INSPECT_BYTES = 256 * 1024 * 1024


def inspect_image(data: bytes) -> PrivacyReport:
    """List what the image carries besides its pixels. Never decodes pixel data."""
    if len(data) > MAX_INSPECT_BYTES:
        raise ImageRejected(
            f"the file is {len(data) // (1024 * 1024)} MiB, over the "
            f"{MAX_INSPECT_BYTES // (1024 * 1024)} MiB inspection limit"
        )
    kind = sniff_format(data)
    register_heif()
    try:
        image = open_header(data)
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected(
            "this is not an image p2pchat can read (not a recognised image format"
            + (f"; it looks like {kind}, which could not be parsed)" if kind != "unknown" else ")")
        ) from None
    except Exception as error:
        bomb = bomb_refusal(error)
        if bomb:
            raise ImageRejected(bomb) from None
        raise ImageRejected(
            f"this is not an image p2pchat can read "
            f"({kind if kind != 'unknown' else 'unknown format'}: {as_label(error, 80)})"
        ) from None
    fmt = str(image.format or kind)
    width, height = image.size
    out = FindingCollector()
    try:
        with warnings.catch_warnings():
            # Pillow warns about malformed EXIF tags; they are reported as findings instead.
            warnings.simplefilter("ignore", UserWarning)
            _inspect_into(data, kind, image, out)
    except ImageRejected:
        raise
    except Exception as error:  # a malformed block: say so rather than crash
        out.add(
            Finding(
                "malformed",
                "medium",
                f"Part of the metadata is malformed and could not be read fully "
                f"({as_label(error, 80)}).",
                {},
            )
        )
    out.finish()
    return PrivacyReport(fmt, width, height, sorted(out.findings, key=importance))


def _inspect_into(data: bytes, kind: str, image: Image.Image, out: FindingCollector) -> None:
    blocks = read_container(data, kind, out)
    report_exif(image, kind, blocks.exif, out, data)
    report_xmp(image, blocks.xmp, out)
    icc = image.info.get("icc_profile") or blocks.icc
    if icc:
        analyse_icc(bytes(icc), out)
    photoshop = image.info.get("photoshop")
    if isinstance(photoshop, dict) and photoshop:
        analyse_photoshop(photoshop, out)
    if kind in ("JPEG", "TIFF"):
        analyse_iptc(image, out)
    report_structure(data, kind, image, blocks.container, out)
    report_segments(data, kind, blocks.container, out)
    if kind == "TIFF":
        report_previews(data, out)
    report_other_format(data, kind, image, out)
