"""The outside audit's classes: `inspect` names what exiftool sees in every format it opens.

Formats without a walker (PSD, EPS, JPEG 2000, PNM...) were reported as carrying
"nothing besides the pixels" while they held XMP, IPTC, EXIF and header comments; an
XMP thumbnail, an AVIF sequence's movie time and a BMP trailer went unnamed. Real files
from the audit (tests/data/audit/SOURCES.md) where they exist, crafted ones otherwise;
the audit script's own checker (scripts/audit_images.py) compares with real exiftool.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image, PngImagePlugin

from p2pchat.cli.main import main
from p2pchat.core.errors import ImageRejected
from p2pchat.media.inspect import inspect_image
from p2pchat.media.report import PrivacyReport
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image

ROOT = Path(__file__).resolve().parents[2]
AUDIT = ROOT / "tests" / "data" / "audit"
AUDIT_FILES = sorted(p for p in AUDIT.iterdir() if p.name != "SOURCES.md")


def cli(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """``p2pchat ARGV`` in a fresh interpreter: no logging set up by pytest."""
    return subprocess.run(
        [sys.executable, "-m", "p2pchat.cli.main", *argv],
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
    )


def audit_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_images", ROOT / "scripts/audit_images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report_of(name: str) -> PrivacyReport:
    path = AUDIT / name
    assert path.is_file(), f"test data missing from the repository: {path}"
    return inspect_image(path.read_bytes())


def words(report: PrivacyReport) -> str:
    """What the report names (the "read in part" note lists kinds it only looked for)."""
    return " ".join(f.message for f in report.findings if f.category != "partial")


def test_every_audit_file_is_present():
    assert len(AUDIT_FILES) == 11


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("exiftool-postscript-xmp.eps", ["Kingston", "Phil Harvey", "2004-02-26", "XMP packet"]),
        (
            "exiftool-photoshop-iptc-exif.psd",
            ["IPTC record in Photoshop data", "by-line Phil Harvey", "EXIF block", "XMP packet"],
        ),
        (
            "exiftool-jpeg2000-exif-comment.jp2",
            ["artist me", "Kakadu", "GeoTIFF map coordinates (334159.28, 4429865.18)"],
        ),
        ("exiftool-ppm-comment.ppm", ["ExifTool PPM test"]),
        ("pillow-9bit-comment.j2k", ["Created by OpenJPEG"]),
        (
            "exiftool-photocd-scanner.pcd",
            ["scanner serial number 436", "KODAK /4220", "2001:06:27 05:29:36", "Prolab"],
        ),
    ],
)
def test_unwalked_formats_are_searched_and_said_to_be_read_in_part(name, expected):
    report = report_of(name)
    text = words(report)
    for word in expected:
        assert word in text, f"{word!r} not in {text}"
    partial = [f for f in report.findings if f.category == "partial"]
    assert partial and report.format in partial[0].message


def test_eps_header_lines_ending_in_cr_are_read():
    report = report_of("exiftool-postscript-xmp.eps")
    software = [f for f in report.findings if f.category == "software"]
    times = [f for f in report.findings if f.category == "time"]
    # "%%Creator: Adobe Photoshop Version 7.0.1\r%%Title: c.eps\r%%CreationDate: ..."
    assert software and "Adobe Photoshop Version 7.0.1" in software[0].message
    assert times and "7/18/05 2:33 PM" in times[0].message
    assert "Title: c.eps" in words(report)


@pytest.mark.parametrize("fmt", ["TGA", "PCX", "ICO", "SGI", "DDS"])
def test_a_file_not_read_in_full_is_never_called_clean(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, format=fmt)
    report = inspect_image(buffer.getvalue())
    assert [f.category for f in report.findings] == ["partial"]
    assert report.summary() != "no metadata found"


def test_a_bmp_is_read_in_full_and_its_trailer_is_named():
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, format="BMP")
    assert inspect_image(buffer.getvalue()).findings == []
    report = inspect_image(buffer.getvalue() + b"GPS 35.6586N 139.7454E, for Alice")
    trailer = [f for f in report.findings if f.category == "trailer"]
    assert trailer and trailer[0].detail["bytes"] == 33


def _xmp_with_thumbnail(attribute: bool) -> bytes:
    thumb = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(thumb, format="JPEG")
    encoded = base64.b64encode(thumb.getvalue()).decode()
    wrapped = "&#xA;".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    image = (
        f'<rdf:li xmpGImg:width="40" xmpGImg:image="{wrapped}"/>'
        if attribute
        else f"<rdf:li><xmpGImg:width>40</xmpGImg:width><xmpGImg:image>{wrapped}"
        "</xmpGImg:image></rdf:li>"
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/">'
        f"<xmp:Thumbnails><rdf:Alt>{image}</rdf:Alt></xmp:Thumbnails>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


@pytest.mark.parametrize("attribute", [False, True])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_an_xmp_thumbnail_is_named_in_every_format(fmt, attribute):
    buffer = io.BytesIO()
    packet = _xmp_with_thumbnail(attribute)
    options: dict[str, object] = {"xmp": packet}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode())
        options = {"pnginfo": info}
    elif fmt == "TIFF":
        options = {"tiffinfo": {700: packet}}  # TIFF keeps XMP in tag 700
    Image.new("RGB", (64, 48), (9, 9, 9)).save(buffer, format=fmt, **options)
    report = inspect_image(buffer.getvalue())
    thumbnails = [f for f in report.findings if f.category == "thumbnail"]
    assert thumbnails, report.summary()
    assert thumbnails[0].detail["source"] == "XMP"
    assert (thumbnails[0].detail["width"], thumbnails[0].detail["height"]) == (40, 30)


def test_an_avif_sequence_names_its_movie_time():
    report = report_of("pillow-star-sequence.avifs")
    times = [f for f in report.findings if f.category == "time"]
    assert times and "2020:04:07 16:39:23" in times[0].message


def test_cli_inspect_prints_what_an_eps_holds(capsys):
    assert main(["inspect", str(AUDIT / "exiftool-postscript-xmp.eps")]) == 0
    printed = capsys.readouterr().out
    assert "Kingston" in printed and "read in part" not in printed.splitlines()[0]
    assert "nothing found besides the pixels" not in printed


def test_inspect_names_every_kind_exiftool_sees():
    """The audit's checker, with real exiftool, over the audit files: nothing missed."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (Debian package libimage-exiftool-perl)")
    audit = audit_script()
    tags = audit.exiftool_tags([str(p) for p in AUDIT_FILES])
    assert len(tags) == len(AUDIT_FILES)
    for path in AUDIT_FILES:
        try:
            report = inspect_image(path.read_bytes())
        except ImageRejected:
            continue  # the broken TIFF and the two bombs: refused, nothing to name
        missed = audit.misses_of(
            tags[str(path)], {f.category for f in report.findings}, words(report)
        )
        assert missed == [], f"{path.name}: {missed}"


def test_the_audit_script_passes_over_the_audit_files(tmp_path):
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (Debian package libimage-exiftool-perl)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/audit_images.py"), str(AUDIT), "--jobs", "1"],
        capture_output=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()[-2000:]
    assert "12 files" in out and "0 with problems" in out  # SOURCES.md is thrown at it too


def test_read_in_part_is_said_in_japanese_too():
    from p2pchat.i18n import set_language

    set_language("ja")
    try:
        summary = report_of("exiftool-ppm-comment.ppm").summary()
    finally:
        set_language("en")
    assert "PPM は一部だけ読み取り" in summary
    assert "read in part" not in summary


def test_pillow_log_lines_never_reach_the_terminal():
    """Pillow logs "More samples per pixel than can be decoded" before it refuses."""
    done = cli("inspect", str(AUDIT / "pillow-libtiff-samples-per-pixel.tif"))
    assert done.returncode == 5
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("p2pchat: "), lines


def test_a_broken_file_of_a_sendable_format_is_not_called_the_wrong_format():
    data = (AUDIT / "pillow-libtiff-samples-per-pixel.tif").read_bytes()
    with pytest.raises(ImageRejected, match="looks like a TIFF file, but its header is corrupt"):
        sanitize_image(data, SanitizePolicy())
    with pytest.raises(ImageRejected, match="not an image format accepted when you receive"):
        sanitize_image(data, SanitizePolicy(side="receive"))


@pytest.mark.parametrize("name", ["pillow-decompression-bomb.gif", "pillow-png-text-bomb.png"])
def test_pillow_bomb_refusals_are_worded_as_bombs(name):
    data = (AUDIT / name).read_bytes()
    with pytest.raises(ImageRejected, match="refusing a possible decompression bomb"):
        inspect_image(data)
    with pytest.raises(ImageRejected, match="refusing a possible decompression bomb"):
        sanitize_image(data, SanitizePolicy())
    done = cli("inspect", str(AUDIT / name))
    assert done.returncode == 5
    assert b"refusing a possible decompression bomb" in done.stderr


def test_byte_scans_stop_after_a_bounded_number_of_blocks():
    """Repeated tiny blocks cannot make a scan walk a whole file of hundreds of MiB."""
    from p2pchat.media import other_formats

    tiny = b"8BIM\x04\x04\x00\x00\x00\x00\x00\x00"  # IPTC, empty name, 0 bytes
    exif = b"8BIM\x04\x22\x00\x00\x00\x00\x00\x04II*\x00"
    assert 0x0422 in other_formats.photoshop_resources(tiny * 10 + exif)
    assert 0x0422 not in other_formats.photoshop_resources(tiny * 5000 + exif)
    siz = b"\xff\x4f\xff\x51\x00\x02"
    com = b"\xff\x64\x00\x08\x00\x01note"
    filler = b"\xff\x55\x00\x02"  # an empty TLM marker segment
    assert other_formats.jpeg2000_comments(siz + filler * 10 + com) == ["note"]
    assert other_formats.jpeg2000_comments(siz + filler * 5000 + com) == []


def test_geotiff_map_coordinates_are_named_in_both_languages():
    from p2pchat.i18n import set_language

    report = report_of("exiftool-geotiff.tif")
    geo = [f for f in report.findings if f.category == "geotiff"]
    assert geo and geo[0].severity == "high"
    assert "(691955.17, 2791710.99)" in geo[0].message
    set_language("ja")
    try:
        assert "GeoTIFF の地図座標" in report.summary()
    finally:
        set_language("en")


def test_a_phase_one_makernote_names_its_serial_lens_and_firmware():
    from tests.photos import photo

    report = inspect_image(photo("raw/exiftool-phaseone.iiq").read_bytes())
    text = words(report)
    assert "camera back serial number LD001055" in text
    assert "lens Mamiya LS 80mm f/2.8 D" in text
    assert "Firmware: 1.01.4" in text


def test_a_jpeg_comment_inside_another_format_is_named():
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG", comment=b"shot at Alice's flat")
    # A BLP1 keeps its JPEG stream after a header of its own (as Blizzard's textures do).
    blp = io.BytesIO()
    Image.new("P", (8, 8)).save(blp, format="BLP")
    report = inspect_image(blp.getvalue() + jpeg.getvalue())
    assert 'A comment in a JPEG stream inside the file: "shot at Alice\'s flat"' in words(report)
