"""`p2pchat inspect` and `p2pchat sanitize`, run as a user would: in a subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from p2pchat.media.samples import demo_photo

EXIT_INPUT_REJECTED = 5


def p2pchat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_inspect_json_names_the_location(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(demo_photo())
    done = p2pchat("inspect", str(photo), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["format"] == "JPEG"
    assert report["summary"].startswith("GPS location 35.66 N 139.75 E")
    assert {"gps", "serial", "thumbnail", "trailer"} <= {f["category"] for f in report["findings"]}


def test_sanitize_writes_a_clean_copy_and_says_what_went(tmp_path: Path) -> None:
    photo, clean = tmp_path / "photo.jpg", tmp_path / "out" / "clean.jpg"
    clean.parent.mkdir()
    photo.write_bytes(demo_photo())
    done = p2pchat("sanitize", str(photo), "-o", str(clean))
    assert done.returncode == 0, done.stderr
    assert "GPS location 35.6586 N 139.7454 E" in done.stdout
    assert "sensor" in done.stdout  # the honest limit is always said
    data = clean.read_bytes()
    assert b"Canon" not in data and data.endswith(b"\xff\xd9")
    assert Image.open(io.BytesIO(data)).size == (1200, 900)
    assert [p.name for p in clean.parent.iterdir()] == ["clean.jpg"], "no temp file left"
    again = p2pchat("inspect", str(clean), "--json")
    assert json.loads(again.stdout)["findings"] == []


def test_sanitize_original_size_and_json(tmp_path: Path) -> None:
    photo, clean = tmp_path / "big.jpg", tmp_path / "clean.jpg"
    photo.write_bytes(demo_photo((2400, 1800)))
    done = p2pchat("sanitize", str(photo), "-o", str(clean), "--original", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["width"], answer["height"]) == (2400, 1800)
    assert answer["removed"]["findings"]


def test_sanitize_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    original = demo_photo()
    photo.write_bytes(original)
    done = p2pchat("sanitize", str(photo), "-o", str(tmp_path / "." / "photo.jpg"))
    assert done.returncode == 2
    assert "overwrite" in done.stderr
    assert photo.read_bytes() == original


def test_rejected_input_exits_5(tmp_path: Path) -> None:
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"this is not a picture at all" * 10)
    for args in (("inspect", str(junk)), ("sanitize", str(junk), "-o", str(tmp_path / "x.jpg"))):
        done = p2pchat(*args)
        assert done.returncode == EXIT_INPUT_REJECTED
        assert "not" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.jpg").exists()
    missing = p2pchat("inspect", str(tmp_path / "missing.jpg"))
    assert missing.returncode == EXIT_INPUT_REJECTED


def _transparent_png() -> bytes:
    picture = Image.new("RGBA", (40, 20), (200, 30, 30, 255))
    picture.paste((10, 180, 60, 0), (0, 0, 20, 20))  # erased, colour still there
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_sanitize_output_extension_matches_the_content(tmp_path: Path) -> None:
    jpeg, png = tmp_path / "photo.jpg", tmp_path / "cut-out.png"
    jpeg.write_bytes(demo_photo())
    png.write_bytes(_transparent_png())
    # JPEG bytes in a file named .png, PNG bytes in a .jpg: refused, nothing written.
    for source, wrong, right in ((jpeg, "clean.png", "clean.jpg"), (png, "clean.jpg", "clean.png")):
        done = p2pchat("sanitize", str(source), "-o", str(tmp_path / wrong))
        assert done.returncode == 2, done.stdout + done.stderr
        assert right in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / wrong).exists()
    done = p2pchat("sanitize", str(png), "-o", str(tmp_path / "clean"))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "clean.png"
    assert written.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "colour hidden under transparent areas removed" in done.stdout.lower()
    done = p2pchat("sanitize", str(jpeg), "-o", str(tmp_path / "upper.JPEG"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "upper.JPEG").read_bytes().startswith(b"\xff\xd8\xff")


def test_sanitize_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    photo, clean = tmp_path / "photo.jpg", tmp_path / "clean.jpg"
    photo.write_bytes(demo_photo())
    clean.write_bytes(b"keep me")
    done = p2pchat("sanitize", str(photo), "-o", str(clean))
    assert done.returncode == 2
    assert "--force" in done.stderr
    assert clean.read_bytes() == b"keep me"
    done = p2pchat("sanitize", str(photo), "-o", str(clean), "--force")
    assert done.returncode == 0, done.stderr
    assert clean.read_bytes().startswith(b"\xff\xd8\xff")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.jpg", "photo.jpg"]


def test_sanitize_missing_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(demo_photo())
    done = p2pchat("sanitize", str(photo), "-o", str(tmp_path / "nowhere" / "clean.jpg"))
    assert done.returncode == 2, done.stderr
    assert "does not exist" in done.stderr
    assert not (tmp_path / "nowhere").exists()


def _japanese_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    return subprocess.run(
        [sys.executable, "-m", "p2pchat", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean_env, **env},
    )


def test_inspect_and_sanitize_speak_japanese_with_lang_or_the_locale(tmp_path: Path) -> None:
    """Issue 16 §2: only the summary line was Japanese; every finding stayed English."""
    from p2pchat.media.inspect import inspect_image
    from p2pchat.media.report import Finding
    from tests.media.test_report_sentences import english_left, values_of

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(demo_photo())
    by_flag = _japanese_cli("inspect", "--lang", "ja", str(photo), env={})
    by_locale = _japanese_cli("inspect", str(photo), env={"LANG": "ja_JP.UTF-8"})
    assert by_flag.returncode == by_locale.returncode == 0, by_flag.stderr + by_locale.stderr
    assert by_flag.stdout == by_locale.stdout
    body = by_flag.stdout.split("\n", 1)[1]  # the first line names the file
    assert "まとめ:" in body and "GPS 位置 35.66 N 139.75 E" in body
    # Values (the camera model, serials) stay data; no English word is left around them.
    every_value = Finding("all", "low", "", {"values": values_of(inspect_image(demo_photo()))})
    assert english_left(body, every_value) == set(), body
    clean = tmp_path / "clean.jpg"
    done = _japanese_cli("sanitize", str(photo), "-o", str(clean), env={"LANG": "ja_JP.UTF-8"})
    assert done.returncode == 0, done.stderr
    assert "削除したもの:" in done.stdout and "メモ:" in done.stdout
    assert "Stripping" not in done.stdout and "removed" not in done.stdout
    english = _japanese_cli("inspect", str(photo), env={"LANG": "C.UTF-8"})
    assert "summary: GPS location" in english.stdout
    # JSON is for programs: the same English words whatever the locale or --lang.
    as_json = _japanese_cli("inspect", "--lang", "ja", str(photo), "--json", env={})
    assert json.loads(as_json.stdout)["summary"].startswith("GPS location 35.66 N")
