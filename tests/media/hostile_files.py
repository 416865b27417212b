"""Crafted hostile images, generated in the test (no data file): the audit's classes.

- ``many_scans_jpeg``: a progressive JPEG whose last scan is repeated thousands
  of times; libjpeg decodes every repeat over the whole image, so a few hundred
  kilobytes cost minutes of CPU.
- ``deep_png``: a 16-bit RGBA PNG of zeros within the pixel limit; it compresses
  to well under a megabyte but decodes to gigabytes in the sanitiser.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.media.conftest import png_chunk


def many_scans_jpeg(side: int = 4096, repeats: int = 8000) -> bytes:
    """A flat grey progressive JPEG with its last scan repeated ``repeats`` times."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", progressive=True, quality=90)
    data = out.getvalue()
    start, end = _last_scan(data)
    return data[:end] + data[start:end] * repeats + data[end:]


def _last_scan(data: bytes) -> tuple[int, int]:
    """Where the last SOS segment (header and entropy-coded data) starts and ends."""
    position, last = 2, (0, 0)
    while data[position + 1] != 0xD9:  # EOI
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if marker == 0xDA:  # SOS: its data runs to the next marker that is not a stuffed byte
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
            last = (position, end)
        position = end
    return last


def deep_png(width: int = 8000, height: int = 8000) -> bytes:
    """16 bits per channel, RGBA, all zero: ~512 MB of samples in a few hundred kB."""
    row = b"\x00" + bytes(width * 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )
