"""Safe structural access to image files, without decoding pixels.

Owns the size limits, opening a header under them (``open_header``), recognising a
format from its first bytes, and the bounds-checked walkers that list the segments,
chunks and blocks of JPEG, PNG, GIF and WebP files and where the image really ends.
Both the inspector and the sanitiser's final check read files through here.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageFile

from p2pchat.core.errors import ImageRejected
from p2pchat.media.policy import MAX_PIXELS as MAX_PIXELS
from p2pchat.media.policy import MAX_SIDE as MAX_SIDE

# XMP is scanned in at most this many bytes; a compressed iTXt chunk (where PNGs keep
# their XMP) inflates to no more.
MAX_XMP_SCAN = 4 * 1024 * 1024


# Pillow logs some refusals (logger.error) before raising. With no handler configured,
# Python's last-resort handler would print them on the user's terminal beside our own
# clear error; the exception is what counts, so that log line goes nowhere by default.
logging.getLogger("PIL").addHandler(logging.NullHandler())


def bomb_refusal(error: BaseException) -> str | None:
    """Our words for Pillow's decompression-bomb refusals at open, or None for other errors.

    Pillow refuses too many declared pixels with ``DecompressionBombError`` (or the
    warning the callers turn into an error), and a text chunk that inflates past
    ``MAX_TEXT_CHUNK`` with a plain ``ValueError``: both are bombs, not broken files.
    """
    if isinstance(error, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return (
            f"the image declares too many pixels (the limit is {MAX_PIXELS // 1_000_000} "
            "megapixels): refusing a possible decompression bomb"
        )
    if isinstance(error, ValueError) and "Decompressed data too large" in str(error):
        return (
            "a metadata chunk of the image inflates to a size too large to read: "
            "refusing a possible decompression bomb"
        )
    return None


def open_header(data: bytes, formats: list[str] | None = None) -> Image.Image:
    """Open without decoding pixels; decompression-bomb warnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # malformed EXIF: reported, not warned
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=formats)
    width, height = image.size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageRejected(
            f"the image claims to be {width}x{height} pixels, over the limit of "
            f"{MAX_SIDE}x{MAX_SIDE} and {MAX_PIXELS // 1_000_000} megapixels"
        )
    return image


def embedded_image_size(data: bytes) -> tuple[str, int, int] | None:
    """Format and size of an embedded picture (thumbnail, trailer), or None."""
    try:
        image = open_header(data, ["JPEG", "MPO", "PNG", "GIF", "WEBP", "TIFF", "BMP"])
        return (str(image.format), image.size[0], image.size[1])
    except Exception:
        return None


@dataclass
class Container:
    segments: list[tuple[str, bytes]] = field(default_factory=list)  # (kind, payload)
    image_end: int | None = None
    frames: int = 1
    problems: list[str] = field(default_factory=list)


def walk_jpeg(data: bytes) -> Container:
    out = Container()
    pos = 2
    length = len(data)
    while pos + 2 <= length:
        if data[pos] != 0xFF:
            out.problems.append(f"garbage at byte {pos} between JPEG segments")
            return out
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            out.image_end = pos + 2
            return out
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > length:
            break
        (seg_len,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if seg_len < 2 or pos + 2 + seg_len > length:
            out.problems.append("a JPEG segment runs past the end of the file")
            return out
        payload = data[pos + 4 : pos + 2 + seg_len]
        if 0xE0 <= marker <= 0xEF:
            out.segments.append((f"APP{marker - 0xE0}", payload))
        elif marker == 0xFE:
            out.segments.append(("COM", payload))
        pos += 2 + seg_len
        if marker == 0xDA:  # entropy-coded data follows: find the next real marker
            scan = pos
            while True:
                scan = data.find(b"\xff", scan)
                if scan < 0 or scan + 1 >= length:
                    out.problems.append("the JPEG ends inside the image data (truncated)")
                    return out
                following = data[scan + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    scan += 1 if following == 0xFF else 2
                    continue
                break
            pos = scan
    out.problems.append("the JPEG has no end-of-image marker (truncated)")
    return out


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def walk_png(data: bytes) -> Container:
    out = Container()
    pos = 8
    while pos + 8 <= len(data):
        (chunk_len,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        end = pos + 12 + chunk_len
        if end > len(data):
            out.problems.append(f"the PNG chunk {kind!r} runs past the end of the file")
            return out
        if kind != "IDAT":
            out.segments.append((kind, data[pos + 8 : pos + 8 + chunk_len]))
        if kind == "acTL" and chunk_len >= 4:
            out.frames = max(1, struct.unpack(">I", data[pos + 8 : pos + 12])[0])
        pos = end
        if kind == "IEND":
            out.image_end = pos
            return out
    out.problems.append("the PNG has no IEND chunk (truncated)")
    return out


def walk_gif(data: bytes) -> Container:
    out = Container(frames=0)
    if len(data) < 13:
        out.problems.append("the GIF header is truncated")
        return out
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)

    def skip_sub_blocks(start: int) -> tuple[int, bytes]:
        collected = bytearray()
        while start < len(data):
            size = data[start]
            start += 1
            if size == 0:
                return start, bytes(collected)
            if len(collected) < 65536:
                collected += data[start : start + size]
            start += size
        raise ValueError("truncated")

    try:
        while pos < len(data):
            block = data[pos]
            if block == 0x3B:
                out.image_end = pos + 1
                return out
            if block == 0x21 and pos + 1 < len(data):
                label = data[pos + 1]
                pos, payload = skip_sub_blocks(pos + 2)
                if label == 0xFE:
                    out.segments.append(("comment", payload))
                elif label == 0xFF:
                    out.segments.append(("application", payload))
                elif label == 0x01:
                    out.segments.append(("plaintext", payload))
            elif block == 0x2C and pos + 10 <= len(data):
                out.frames += 1
                local = data[pos + 9]
                pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0)
                pos += 1  # LZW minimum code size
                pos, _ = skip_sub_blocks(pos)
            else:
                out.problems.append(f"unexpected GIF block 0x{block:02x}")
                return out
    except ValueError:
        pass
    out.problems.append("the GIF has no trailer (truncated)")
    return out


def walk_riff(data: bytes) -> Container:
    out = Container()
    if len(data) < 12:
        out.problems.append("the WebP header is truncated")
        return out
    (riff_len,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_len)
    pos = 12
    frames = 0
    while pos + 8 <= end:
        kind = data[pos : pos + 4].decode("latin-1")
        (chunk_len,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        payload = data[pos + 8 : pos + 8 + chunk_len]
        if kind not in ("VP8 ", "VP8L", "ALPH", "ANMF"):  # all but the pixels
            out.segments.append((kind, payload))
        if kind == "ANMF":
            frames += 1
        pos += 8 + chunk_len + (chunk_len & 1)
    out.frames = max(1, frames)
    out.image_end = 8 + riff_len if 8 + riff_len <= len(data) else None
    if out.image_end is None:
        out.problems.append("the WebP file is shorter than its header says (truncated)")
    return out


def sniff_format(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"ftyp":
        return "HEIF"
    if data[:2] == b"BM":
        return "BMP"
    return "unknown"


_heif_registered = False


def register_heif() -> None:
    """Register pillow-heif once, with thumbnails, depth and auxiliary images off."""
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    except Exception:  # noqa: S110 - pillow-heif missing or broken: HEIC is then unreadable
        pass
    _heif_registered = True
    ImageFile.LOAD_TRUNCATED_IMAGES = False
