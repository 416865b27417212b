"""Where the repository's real test photos live: ``tests/data/photos`` (origins and
licences in its ``SOURCES.md``). Tests that need them never skip: a missing file is a
failure, since the data ships with the repository."""

from __future__ import annotations

from pathlib import Path

PHOTOS = Path(__file__).resolve().parent / "data" / "photos"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".heic"}


def photo(name: str) -> Path:
    """The path of one test photo; raises if the repository's test data is incomplete."""
    path = PHOTOS / name
    if not path.is_file():
        raise FileNotFoundError(f"test data missing from the repository: {path}")
    return path


def photo_files() -> list[Path]:
    """Every image in the test data (the orientation set included), sorted."""
    files = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"test data missing from the repository: {PHOTOS}")
    return files
