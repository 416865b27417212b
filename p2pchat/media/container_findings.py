"""Container-level findings: what rides in the file's structure rather than in EXIF or XMP.

Owns JPEG and GIF comments, PNG text chunks, ICC colour profiles, embedded thumbnails,
extra frames and HEIF auxiliary images, structure problems, and bytes hidden after the
image's end (trailers, aCropalypse leftovers).
"""

from __future__ import annotations

import contextlib
import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image

from p2pchat.media.collector import FindingCollector, as_label
from p2pchat.media.containers import (
    MAX_XMP_SCAN,
    PNG_SIGNATURE,
    Container,
    embedded_image_size,
    walk_gif,
    walk_jpeg,
    walk_png,
    walk_riff,
)
from p2pchat.media.report import Finding, Severity


def thumbnail_finding(
    source: str, thumb: bytes, main_size: tuple[int, int], out: FindingCollector
) -> None:
    size = embedded_image_size(thumb)
    detail: dict[str, Any] = {"source": source, "bytes": len(thumb)}
    message = f"An embedded {source} thumbnail ({len(thumb)} bytes)"
    severity: Severity = "medium"
    if size:
        detail["width"], detail["height"] = size[1], size[2]
        message += f", {size[1]}x{size[2]}"
        main_w, main_h = main_size
        if main_w and main_h and size[2]:
            main_ratio = main_w / main_h
            thumb_ratio = size[1] / size[2]
            if (
                abs(main_ratio - thumb_ratio) / main_ratio > 0.05
                and abs(main_ratio - 1 / thumb_ratio) / main_ratio > 0.05
            ):
                detail["stale"] = True
                severity = "high"
                message += (
                    f"; its shape differs from the {main_w}x{main_h} image, so it shows "
                    "a different (probably uncropped) version"
                )
    message += ". It may show the uncropped original."
    detail["short"] = "embedded thumbnail" + (" (uncropped)" if detail.get("stale") else "")
    out.add(Finding("thumbnail", severity, message, detail))


def analyse_icc(icc: bytes, out: FindingCollector) -> None:
    detail: dict[str, Any] = {"bytes": len(icc)}
    description = ""
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
        description = as_label(profile.profile_description or "")
    except Exception:
        description = "unreadable"
    detail["description"] = description
    device_maker = icc[48:52] if len(icc) >= 56 else b""
    device_model = icc[52:56] if len(icc) >= 56 else b""
    # Standard profiles carry placeholders ("none", IEC sRGB) rather than a device.
    names_device = device_maker.strip(b"\x00 ").lower() not in (b"", b"none", b"iec") or (
        device_model.strip(b"\x00 ").lower() not in (b"", b"none", b"srgb")
    )
    message = f"A colour profile ({description or 'unnamed'}, {len(icc)} bytes)"
    severity: Severity = "low"
    if names_device:
        maker = as_label(device_maker) or device_maker.hex()
        model = as_label(device_model) or device_model.hex()
        detail["device_manufacturer"], detail["device_model"] = maker, model
        message += f" that names a device ({maker} {model})"
        severity = "medium"
    out.add(Finding("icc", severity, message + ".", {**detail, "short": "colour profile"}))


def png_text(kind: str, payload: bytes) -> tuple[str, str]:
    keyword, _, rest = payload.partition(b"\x00")
    key = as_label(keyword.decode("latin-1"), 60)
    value = ""
    try:
        if kind == "tEXt":
            value = rest.decode("latin-1")
        elif kind == "zTXt":
            # Bounded inflate: a zTXt bomb must not expand here.
            value = zlib.decompressobj().decompress(rest[1:], 4096).decode("latin-1")
        elif kind == "iTXt":
            compressed = rest[:1] == b"\x01"
            parts = rest[2:].split(b"\x00", 2)
            text_bytes = parts[2] if len(parts) == 3 else b""
            if compressed:
                text_bytes = zlib.decompressobj().decompress(text_bytes, MAX_XMP_SCAN)
            value = text_bytes.decode("utf-8", "replace")
    except (zlib.error, ValueError):
        value = "(unreadable)"
    return key, value


@dataclass
class ContainerBlocks:
    """The walked structure, and the metadata blocks it holds for the other readers."""

    container: Container | None
    exif: bytes | None
    xmp: bytes | None
    icc: bytes | None  # a WebP ICCP chunk; other formats' profiles come through Pillow


def read_container(data: bytes, kind: str, out: FindingCollector) -> ContainerBlocks:
    """Walk the file's structure, report its comments and text chunks, return its blocks.

    The EXIF, XMP and (WebP) ICC blocks it finds go on to their own readers.
    """
    exif_raw: bytes | None = None
    xmp_raw: bytes | None = None
    icc: bytes | None = None
    container: Container | None = None
    if kind == "JPEG":
        container = walk_jpeg(data)
        for segment, payload in container.segments:
            if segment == "APP1" and payload.startswith(b"Exif\x00") and exif_raw is None:
                exif_raw = payload
            elif segment == "APP1" and payload.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
                xmp_raw = payload[29:]
            elif segment == "COM":
                text = as_label(payload, 200)
                if text:
                    out.add(
                        Finding(
                            "comment",
                            "medium",
                            f"A JPEG comment: {text!r}.",
                            {"comment": text, "short": "comment"},
                        )
                    )
            elif segment == "APP2" and payload.startswith(b"MPF\x00"):
                pass  # reported through the frame count (report_structure)
            elif segment == "APP13":
                pass  # read from Pillow's "photoshop" dict (xmp_findings)
    elif kind == "PNG":
        container = walk_png(data)
        for chunk, payload in container.segments:
            if chunk in ("tEXt", "zTXt", "iTXt"):
                key, value = png_text(chunk, payload)
                if key == "XML:com.adobe.xmp":
                    xmp_raw = value.encode("utf-8")
                    continue
                if key.lower() == "raw profile type exif" or key.lower() == "raw profile type app1":
                    out.add(
                        Finding(
                            "exif",
                            "medium",
                            "EXIF data hidden in a PNG text chunk.",
                            {"chunk": chunk, "keyword": key},
                        )
                    )
                    continue
                shown = as_label(value, 120)
                out.add(
                    Finding(
                        "text",
                        "medium",
                        f"A PNG {chunk} text chunk {key!r}: {shown!r}.",
                        {
                            "chunk": chunk,
                            "keyword": key,
                            "value": shown,
                            "short": f"PNG text {key}",
                        },
                    )
                )
            elif chunk == "eXIf":
                exif_raw = payload
            elif chunk == "tIME":
                out.add(Finding("time", "low", "A PNG modification time (tIME chunk).", {}))
    elif kind == "GIF":
        container = walk_gif(data)
        for block, payload in container.segments:
            if block == "comment":
                text = as_label(payload, 200)
                out.add(
                    Finding(
                        "comment",
                        "medium",
                        f"A GIF comment: {text!r}.",
                        {"comment": text, "short": "GIF comment"},
                    )
                )
            elif block == "application" and payload.startswith(b"XMP DataXMP"):
                xmp_raw = payload[11:]
            elif block == "plaintext":
                out.add(Finding("text", "medium", "A GIF plain-text block.", {}))
    elif kind == "WEBP":
        container = walk_riff(data)
        for chunk, payload in container.segments:
            if chunk == "EXIF":
                exif_raw = payload
            elif chunk == "XMP ":
                xmp_raw = payload
            elif chunk == "ICCP":
                icc = icc or payload
    elif kind == "BMP" and len(data) >= 6:
        # A BMP holds no metadata blocks; what follows the size its header declares is hidden.
        (declared,) = struct.unpack("<I", data[2:6])
        container = Container(image_end=declared if 14 <= declared <= len(data) else None)
    return ContainerBlocks(container, exif_raw, xmp_raw, icc)


def report_structure(
    data: bytes, kind: str, image: Image.Image, container: Container | None, out: FindingCollector
) -> None:
    """Extra frames and images, structure problems, and bytes after the image's end."""
    frames = container.frames if container else 1
    if kind != "GIF":  # GIF frames were counted by the walker without decoding them
        with contextlib.suppress(Exception):
            frames = max(frames, int(getattr(image, "n_frames", 1)))
    if image.format == "MPO" or frames > 1:
        what = (
            "an MPO second picture (often a preview or a stereo twin)"
            if image.format == "MPO"
            else f"{frames} frames"
        )
        out.add(
            Finding(
                "frames",
                "medium",
                f"The file holds {what}; only the first is shown by most viewers.",
                {"frames": frames, "short": f"{frames} frames"},
            )
        )
    if kind == "HEIF":
        _analyse_heif(data, out)

    if container is not None:
        for problem in container.problems[:3]:
            out.add(Finding("malformed", "low", f"Structure problem: {problem}.", {}))
        if container.image_end is not None and container.image_end < len(data):
            _trailer_finding(kind, data[container.image_end :], image.format == "MPO", out)


def _trailer_finding(kind: str, trailer: bytes, is_mpo: bool, out: FindingCollector) -> None:
    if not trailer.strip(b"\x00\xff"):
        out.add(
            Finding(
                "trailer",
                "low",
                f"{len(trailer)} padding bytes after the end of the image.",
                {"bytes": len(trailer)},
            )
        )
        return
    end_name = {
        "JPEG": "end-of-image marker",
        "PNG": "IEND chunk",
        "GIF": "GIF trailer",
        "WEBP": "RIFF chunk",
    }.get(kind, "image end")
    detail: dict[str, Any] = {"bytes": len(trailer), "short": f"{len(trailer)} hidden bytes"}
    message = f"{len(trailer)} bytes hidden after the {end_name}"
    embedded = None
    for signature in (b"\xff\xd8\xff", PNG_SIGNATURE, b"GIF8"):
        at = trailer.find(signature)
        if 0 <= at < 1024 * 1024:
            embedded = embedded_image_size(trailer[at:])
            if embedded:
                detail["offset"] = at
                break
    if embedded:
        detail.update(embedded_format=embedded[0], width=embedded[1], height=embedded[2])
        detail["short"] += f" (a {embedded[1]}x{embedded[2]} picture)"
        message += f": they contain another picture ({embedded[0]} {embedded[1]}x{embedded[2]})"
        if is_mpo:
            message += " (the MPO's second frame)"
    elif kind == "PNG" and (b"IDAT" in trailer or b"IEND" in trailer):
        detail["acropalypse"] = True
        detail["short"] += " (leftover of the uncropped original)"
        message += (
            ": leftover PNG image data, typically the uncropped original of an "
            "edited screenshot (aCropalypse)"
        )
    message += ". Viewers ignore it, but anyone can extract it."
    out.add(Finding("trailer", "high", message, detail))


def _analyse_heif(data: bytes, out: FindingCollector) -> None:
    try:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    except Exception:
        return
    extras: list[str] = []
    if len(heif) > 1:
        extras.append(f"{len(heif) - 1} more top-level images")
    for image in heif:
        c_image = getattr(image, "_c_image", None)
        if c_image is None:
            continue
        try:
            thumbnails = [t for t in c_image.thumbnails if t is not None]
            depth = [d for d in c_image.depth_image_list if d is not None]
            aux_types = [str(c_image.get_aux_type(i)) for i in c_image.aux_image_ids]
        except Exception:  # noqa: S112 - an unreadable item is simply not listed
            continue
        if thumbnails:
            extras.append(f"{len(thumbnails)} thumbnail(s)")
        if depth:
            extras.append(f"{len(depth)} depth map(s)")
        for aux in aux_types:
            extras.append(
                "an HDR gain map" if "gainmap" in aux.lower() else f"auxiliary image {aux}"
            )
    if extras:
        out.add(
            Finding(
                "frames",
                "medium",
                f"The HEIF container also holds {', '.join(extras)}; a thumbnail may "
                "show the uncropped original, a depth map the scene's shape.",
                {"extras": extras, "short": "HEIF extra images"},
            )
        )
