"""Shared fixtures for the image privacy tests: the real-photo corpus, exiftool, crafted files."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.photos import PHOTOS, photo_files

CORPUS = PHOTOS


def corpus_files() -> list[Path]:
    return photo_files()


@pytest.fixture(scope="session")
def corpus() -> Path:
    photo_files()  # fails, never skips, when the repository's test data is missing
    return CORPUS


def exiftool_json(paths: list[Path]) -> dict[str, dict[str, object]]:
    """Every tag exiftool sees in each file (all groups, duplicates kept), keyed by file name."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (Debian package libimage-exiftool-perl)")
    result = subprocess.run(
        ["exiftool", "-j", "-a", "-G1", *map(str, paths)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    entries = json.loads(result.stdout.decode("utf-8"))
    return {Path(entry["SourceFile"]).name: entry for entry in entries}


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_file(
    width: int,
    height: int,
    *,
    colour_type: int = 2,
    extra_chunks: bytes = b"",
    idat: bytes | None = None,
) -> bytes:
    """A PNG whose pixel data is zeros: tiny on disk, huge once decoded (a bomb when big)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    if idat is None:
        compressor = zlib.compressobj(1)
        row = b"\x00" * (1 + width * channels)
        parts = [compressor.compress(row) for _ in range(height)]
        parts.append(compressor.flush())
        idat = b"".join(parts)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra_chunks
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def zlib_bomb(size: int) -> bytes:
    """``size`` zero bytes, deflated (about 1000:1)."""
    compressor = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)
