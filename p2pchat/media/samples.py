"""A demo photo made at run time that leaks everything a real one does.

``demo_photo()`` draws a simple scene with Pillow and dresses it in realistic
metadata: the GPS position of Tokyo Tower (a well-known public place), a camera
make, model and body serial number, capture times, software, an EXIF thumbnail
showing a WIDER crop than the photo itself, and a second small JPEG hidden after
the end-of-image marker. The demo and the tests use it; nothing is read from disk.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageDraw

TOKYO_TOWER = (35.6586, 139.7454)
CAMERA_MAKE = "Canon"
CAMERA_MODEL = "Canon EOS 5D Mark IV"
BODY_SERIAL = "032021004521"
CAPTURE_TIME = "2024:04:06 10:15:30"
SOFTWARE = "Adobe Photoshop Lightroom Classic 13.2"
HIDDEN_CAPTION = "the picture you did not mean to send"

_ASCII, _SHORT, _LONG, _RATIONAL, _BYTE, _UNDEFINED = 2, 3, 4, 5, 1, 7
_Entry = tuple[int, int, int, bytes]  # tag, type, count, big-endian value bytes


def demo_photo(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A JPEG of ``size`` pixels carrying GPS, device, serial, times, thumbnail and trailer."""
    width, height = size
    # The scene is wider than the photo: the photo is a crop, the thumbnail is not.
    scene = _draw_scene(width * 3 // 2, height)
    left = (scene.width - width) // 2
    photo = scene.crop((left, 0, left + width, height))
    thumbnail = scene.copy()
    thumbnail.thumbnail((160, 160))
    thumb_buffer = io.BytesIO()
    thumbnail.save(thumb_buffer, "JPEG", quality=75)
    exif = b"Exif\x00\x00" + _exif_tiff(thumb_buffer.getvalue())
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue() + _hidden_picture()


def _draw_scene(width: int, height: int) -> Image.Image:
    sky = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    scene = Image.merge(
        "RGB",
        (
            sky.getchannel(0).point(lambda v: 90 + v // 3),
            sky.getchannel(0).point(lambda v: 150 + v // 4),
            Image.new("L", (width, height), 235),
        ),
    )
    draw = ImageDraw.Draw(scene)
    ground = int(height * 0.78)
    draw.rectangle((0, ground, width, height), fill=(70, 120, 60))
    centre = width // 2
    top = int(height * 0.12)
    # A red-and-white lattice tower.
    draw.polygon(
        [(centre, top), (centre - height // 6, ground), (centre + height // 6, ground)],
        fill=(220, 60, 40),
    )
    for step in range(1, 6):
        y = top + (ground - top) * step // 6
        half = (height // 6) * (y - top) // (ground - top)
        draw.rectangle((centre - half, y - 6, centre + half, y + 6), fill=(245, 245, 245))
    # What the sender cropped away: visible only in the thumbnail.
    draw.rectangle((width // 40, ground - height // 5, width // 6, ground), fill=(250, 220, 0))
    draw.text((width // 36, ground - height // 6), "HOME\nADDRESS", fill=(0, 0, 0))
    draw.ellipse(
        (width - width // 8, height // 12, width - width // 20, height // 5), fill=(255, 240, 180)
    )
    return scene


def _hidden_picture() -> bytes:
    hidden = Image.new("RGB", (160, 120), (30, 30, 60))
    draw = ImageDraw.Draw(hidden)
    draw.text((8, 50), HIDDEN_CAPTION[:24], fill=(255, 255, 255))
    buffer = io.BytesIO()
    hidden.save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


# ---------------------------------------------------------------- a tiny TIFF writer


def _ascii(text: str) -> tuple[int, int, bytes]:
    raw = text.encode("ascii") + b"\x00"
    return _ASCII, len(raw), raw


def _short(value: int) -> tuple[int, int, bytes]:
    return _SHORT, 1, struct.pack(">H", value)


def _long(value: int) -> tuple[int, int, bytes]:
    return _LONG, 1, struct.pack(">I", value)


def _rationals(*pairs: tuple[int, int]) -> tuple[int, int, bytes]:
    return _RATIONAL, len(pairs), b"".join(struct.pack(">II", n, d) for n, d in pairs)


def _dms(decimal: float) -> tuple[int, int, bytes]:
    degrees = int(decimal)
    minutes_float = (decimal - degrees) * 60
    minutes = int(minutes_float)
    hundredths_of_seconds = round((minutes_float - minutes) * 60 * 100)
    return _rationals((degrees, 1), (minutes, 1), (hundredths_of_seconds, 100))


def _ifd(entries: dict[int, tuple[int, int, bytes]], offset: int, next_ifd: int) -> bytes:
    """One IFD at ``offset``; values longer than 4 bytes follow it."""
    count = len(entries)
    data_offset = offset + 2 + 12 * count + 4
    table = bytearray(struct.pack(">H", count))
    data = bytearray()
    for tag in sorted(entries):
        kind, n, raw = entries[tag]
        if len(raw) <= 4:
            table += struct.pack(">HHI", tag, kind, n) + raw.ljust(4, b"\x00")
        else:
            table += struct.pack(">HHII", tag, kind, n, data_offset + len(data))
            data += raw + (b"\x00" if len(raw) % 2 else b"")
    table += struct.pack(">I", next_ifd)
    return bytes(table + data)


def _exif_tiff(thumbnail: bytes) -> bytes:
    lat, lon = TOKYO_TOWER
    exif_entries = {
        0x9000: (_UNDEFINED, 4, b"0232"),
        0x9003: _ascii(CAPTURE_TIME),
        0x9004: _ascii(CAPTURE_TIME),
        0x9011: _ascii("+09:00"),
        0xA431: _ascii(BODY_SERIAL),
        0xA434: _ascii("EF24-70mm f/2.8L II USM"),
    }
    gps_entries = {
        0x0000: (_BYTE, 4, bytes((2, 3, 0, 0))),
        0x0001: _ascii("N"),
        0x0002: _dms(lat),
        0x0003: _ascii("E"),
        0x0004: _dms(lon),
        0x0005: (_BYTE, 1, b"\x00"),
        0x0006: _rationals((150, 1)),
    }
    ifd0_entries = {
        0x010F: _ascii(CAMERA_MAKE),
        0x0110: _ascii(CAMERA_MODEL),
        0x0112: _short(1),
        0x0131: _ascii(SOFTWARE),
        0x0132: _ascii(CAPTURE_TIME),
        0x8769: _long(0),
        0x8825: _long(0),
    }
    ifd1_entries = {
        0x0103: _short(6),
        0x0201: _long(0),
        0x0202: _long(len(thumbnail)),
    }
    # Sizes do not depend on pointer values, so lay out once to measure, then for real.
    ifd0_offset = 8
    ifd0_size = len(_ifd(ifd0_entries, ifd0_offset, 0))
    exif_offset = ifd0_offset + ifd0_size
    exif_size = len(_ifd(exif_entries, exif_offset, 0))
    gps_offset = exif_offset + exif_size
    gps_size = len(_ifd(gps_entries, gps_offset, 0))
    ifd1_offset = gps_offset + gps_size
    ifd1_size = len(_ifd(ifd1_entries, ifd1_offset, 0))
    thumb_offset = ifd1_offset + ifd1_size
    ifd0_entries[0x8769] = _long(exif_offset)
    ifd0_entries[0x8825] = _long(gps_offset)
    ifd1_entries[0x0201] = _long(thumb_offset)
    return b"".join(
        (
            b"MM\x00*" + struct.pack(">I", ifd0_offset),
            _ifd(ifd0_entries, ifd0_offset, ifd1_offset),
            _ifd(exif_entries, exif_offset, 0),
            _ifd(gps_entries, gps_offset, 0),
            _ifd(ifd1_entries, ifd1_offset, 0),
            thumbnail,
        )
    )
