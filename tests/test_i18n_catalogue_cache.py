"""The parsed catalogues kept beside their TOML: the same texts, never stale, never required."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from p2pchat import i18n

SOURCES = Path(i18n.__file__).parent


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A copy of the catalogues in a folder of their own, read afresh by ``catalogue``."""
    for language in i18n.LANGUAGES:
        shutil.copy(SOURCES / f"{language}.toml", tmp_path / f"{language}.toml")
    monkeypatch.setattr(i18n, "_FOLDER", str(tmp_path))
    i18n.catalogue.cache_clear()
    yield tmp_path
    i18n.catalogue.cache_clear()


def _parsed(path: Path) -> dict[str, str]:
    return i18n._flatten(tomllib.loads(path.read_text("utf-8")))


def _kept(folder: Path, language: str) -> Path:
    return folder / "__pycache__" / f"{language}.toml.{sys.implementation.cache_tag}.marshal"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_a_kept_catalogue_holds_the_same_texts_as_its_toml(folder, language):
    first = i18n.catalogue(language)  # parsed, then kept
    assert _kept(folder, language).is_file()
    i18n.catalogue.cache_clear()
    assert i18n.catalogue(language) == first == _parsed(folder / f"{language}.toml")


def test_an_edited_toml_is_parsed_again(folder):
    i18n.catalogue("en")
    toml = folder / "en.toml"
    toml.write_text(toml.read_text("utf-8").replace('title = "', 'title = "Edited ', 1), "utf-8")
    i18n.catalogue.cache_clear()
    assert i18n.catalogue("en") == _parsed(toml)
    assert any(text.startswith("Edited ") for text in i18n.catalogue("en").values())


@pytest.mark.parametrize(
    "damage",
    [b"", b"\x00garbage", b"\xe9" * 40],
    ids=["empty", "garbage", "truncated"],
)
def test_a_damaged_kept_catalogue_is_ignored_and_replaced(folder, damage):
    i18n.catalogue("en")
    kept = _kept(folder, "en")
    kept.write_bytes(damage)
    i18n.catalogue.cache_clear()
    assert i18n.catalogue("en") == _parsed(folder / "en.toml")
    assert kept.read_bytes() != damage


def test_a_kept_catalogue_of_other_texts_is_not_used(folder):
    """One made from other TOML bytes (or holding non-text) is parsed over, not trusted."""
    import marshal

    kept = _kept(folder, "en")
    kept.parent.mkdir()
    kept.write_bytes(marshal.dumps((b"other", {"app.title": "Wrong"})))
    assert i18n.catalogue("en")["app.title"] != "Wrong"
    i18n.catalogue.cache_clear()
    source = (folder / "en.toml").read_bytes()
    kept.write_bytes(marshal.dumps((source, {"app.title": 7})))
    assert i18n.catalogue("en") == _parsed(folder / "en.toml")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_still_gives_the_texts(folder):
    folder.chmod(0o555)
    try:
        assert i18n.catalogue("ja") == _parsed(folder / "ja.toml")
        assert not _kept(folder, "ja").exists()
    finally:
        folder.chmod(0o755)


def test_a_cannot_write_folder_still_gives_the_texts(folder):
    """The cache's folder cannot be made (a file is in its way): the texts come parsed."""
    (folder / "__pycache__").write_text("in the way")
    assert i18n.catalogue("ja") == _parsed(folder / "ja.toml")


def test_texts_come_without_the_toml_parser_once_kept():
    """Every command words its help and output: with the catalogue kept, no TOML parser
    (about 10 ms of CPU in each process) and no importlib.resources are loaded for it."""
    i18n.catalogue("en")  # kept by now, in the package's own folder (writable here)
    child = (
        f"import json, sys\nsys.path.insert(0, {str(SOURCES.parents[1])!r})\n"
        "from p2pchat.i18n import t\n"
        "t('cli.transfer.done')\n"
        "print(json.dumps(sorted(m for m in ('tomllib', 'importlib.resources')"
        " if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", child],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == []
