"""Sanitise every real sample photo and let exiftool judge what is left."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageOps, ImageStat

from p2pchat.media.sanitize import (
    WHAT_STRIPPING_CANNOT_REMOVE,
    SanitizedImage,
    SanitizePolicy,
    sanitize,
    sanitize_image,
)
from tests.media.conftest import corpus_files, exiftool_json

# Structural facts about the pixels; anything else (a device, place, time, person,
# software, comment, profile, thumbnail, warning about trailing data) is a leak.
ALLOWED_TAGS = {
    "SourceFile",
    "ExifTool:ExifToolVersion",
    "File:FileType",
    "File:FileTypeExtension",
    "File:MIMEType",
    "File:ImageWidth",
    "File:ImageHeight",
    "File:EncodingProcess",
    "File:BitsPerSample",
    "File:ColorComponents",
    "File:YCbCrSubSampling",
    "JFIF:JFIFVersion",
    "JFIF:ResolutionUnit",
    "JFIF:XResolution",
    "JFIF:YResolution",
    "PNG:ImageWidth",
    "PNG:ImageHeight",
    "PNG:BitDepth",
    "PNG:ColorType",
    "PNG:Compression",
    "PNG:Filter",
    "PNG:Interlace",
    "Composite:ImageSize",
    "Composite:Megapixels",
}
FILES = corpus_files()
NAMES = [
    str(path.relative_to(path.parents[1] if path.parent.name == "orientation" else path.parent))
    for path in FILES
]


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    difference = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(difference).mean) / 3


@pytest.fixture(scope="module")
def cleaned(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, SanitizedImage]:
    out_dir = tmp_path_factory.mktemp("clean")
    results = {}
    for path, name in zip(FILES, NAMES, strict=True):
        result = sanitize_image(path.read_bytes(), SanitizePolicy())
        results[name] = result
        suffix = ".png" if result.mime == "image/png" else ".jpg"
        (out_dir / (name.replace("/", "__") + suffix)).write_bytes(result.data)
    results["__exiftool__"] = exiftool_json(sorted(out_dir.iterdir()))  # type: ignore[assignment]
    return results


def test_corpus_is_present() -> None:
    assert len(FILES) >= 20, "expected the shared corpus (16 photos + 8 orientation fixtures)"


@pytest.mark.parametrize("name", NAMES)
def test_exiftool_finds_only_structural_tags(cleaned: dict, name: str) -> None:
    result = cleaned[name]
    suffix = ".png" if result.mime == "image/png" else ".jpg"
    tags = cleaned["__exiftool__"][name.replace("/", "__") + suffix]
    leaks = {
        key: value
        for key, value in tags.items()
        if key not in ALLOWED_TAGS and not key.startswith("System:")
    }
    assert leaks == {}, f"{name} still carries {leaks}"


@pytest.mark.parametrize("name", NAMES)
def test_nothing_after_the_image_end(cleaned: dict, name: str) -> None:
    data = cleaned[name].data
    if cleaned[name].mime == "image/jpeg":
        assert data.endswith(b"\xff\xd9")
        assert data.count(b"\xff\xd8\xff") == 1, "a second JPEG is embedded"
    else:
        assert data.endswith(b"IEND\xaeB`\x82")
        assert data.count(b"IEND") == 1


@pytest.mark.parametrize("name", NAMES)
def test_output_reopens_with_pixels_only(cleaned: dict, name: str) -> None:
    result = cleaned[name]
    image = Image.open(io.BytesIO(result.data))
    image.load()
    assert image.size == (result.width, result.height)
    assert max(image.size) <= 2048
    assert not image.getexif()
    assert "icc_profile" not in image.info and "xmp" not in image.info
    assert "comment" not in image.info
    assert getattr(image, "n_frames", 1) == 1
    assert WHAT_STRIPPING_CANNOT_REMOVE in result.report.notes


def test_orientation_fixtures_are_upright_and_not_mirrored(cleaned: dict) -> None:
    upright = Image.open(io.BytesIO(cleaned["orientation/landscape_1.jpg"].data))
    mirrored = ImageOps.mirror(upright)
    # Sanity: a mirrored picture is far from the upright one, so the bound below means something.
    assert mean_difference(upright, mirrored) > 25
    for number in range(2, 9):
        output = Image.open(io.BytesIO(cleaned[f"orientation/landscape_{number}.jpg"].data))
        assert output.size == upright.size, f"landscape_{number} is not upright"
        assert mean_difference(output, upright) < 8, f"landscape_{number} differs"


def test_png_alpha_is_preserved(corpus: Path, cleaned: dict) -> None:
    result = cleaned["png-text-alpha.png"]
    assert result.mime == "image/png"
    output = Image.open(io.BytesIO(result.data))
    original = Image.open(corpus / "png-text-alpha.png")
    assert output.mode == "RGBA"
    assert output.getchannel("A").tobytes() == original.getchannel("A").tobytes()


def test_adobe_rgb_photo_is_converted_to_srgb(corpus: Path, cleaned: dict) -> None:
    original = Image.open(corpus / "canon-7d-adobergb-xmp-history.jpg")
    source = ImageCms.ImageCmsProfile(io.BytesIO(original.info["icc_profile"]))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    reference = ImageCms.profileToProfile(original, source, srgb, outputMode="RGB")
    assert reference is not None
    output = Image.open(io.BytesIO(cleaned["canon-7d-adobergb-xmp-history.jpg"].data))
    converted = mean_difference(output, reference)
    unconverted = mean_difference(output, original.convert("RGB"))
    assert converted < 3
    assert unconverted > converted + 1.5, "colours look as if no conversion happened"


def test_heic_is_read_upright_without_extras(cleaned: dict) -> None:
    result = cleaned["iphone13promax.heic"]
    # The sensor image is 4032x3024 landscape; the container rotates it to portrait.
    assert (result.width, result.height) == (1536, 2048)
    assert result.report.format == "HEIF"
    assert "gain map" in " ".join(f.message for f in result.report.findings)


def test_mpo_gives_one_frame(cleaned: dict) -> None:
    result = cleaned["panasonic-lx7-mpo-second-frame.jpg"]
    image = Image.open(io.BytesIO(result.data))
    assert image.format == "JPEG"
    assert "mp" not in image.info
    assert "kept the first frame only" in result.report.notes


def test_original_size_policy_keeps_dimensions(corpus: Path) -> None:
    data = (corpus / "panasonic-lx7-mpo-second-frame.jpg").read_bytes()
    clean, report = sanitize(data, SanitizePolicy(max_long_edge=None))
    assert Image.open(io.BytesIO(clean)).size == (3648, 2736)
    assert "frames" in report.categories()


def test_receive_side_accepts_only_jpeg_and_png(corpus: Path) -> None:
    from p2pchat.core.errors import ImageRejected

    receive = SanitizePolicy(side="receive")
    assert sanitize_image((corpus / "nikon-gps-DSCN0010.jpg").read_bytes(), receive).mime
    assert sanitize_image((corpus / "png-text-alpha.png").read_bytes(), receive).mime
    for name in (
        "gif-comment.gif",
        "htc-desire-gps.webp",
        "dji-drone-xmp-gps.tif",
        "iphone13promax.heic",
    ):
        with pytest.raises(ImageRejected, match="accepted when you receive"):
            sanitize_image((corpus / name).read_bytes(), receive)


def test_pillow_info_metadata_does_not_reach_the_output() -> None:
    """Regression: Pillow's savers read some keys from ``im.info``; our output must not."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "LeakyCam"
    exif[0x0131] = "LeakySoft"
    buffer = io.BytesIO()
    image.save(
        buffer,
        "JPEG",
        exif=exif.tobytes(),
        comment=b"secret comment",
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>LeakyXMP</x:xmpmeta>",
    )
    loaded = Image.open(io.BytesIO(buffer.getvalue()))
    assert {"exif", "xmp", "comment"} <= set(loaded.info), "the fixture must carry all three"
    # Show that the trap is real: a naive re-save keeps at least one of them.
    naive = io.BytesIO()
    loaded.save(naive, "JPEG")
    assert b"secret comment" in naive.getvalue() or b"LeakyCam" in naive.getvalue()
    clean, report = sanitize(buffer.getvalue())
    for marker in (b"LeakyCam", b"LeakySoft", b"secret comment", b"LeakyXMP", b"Exif"):
        assert marker not in clean
    assert {"comment", "device", "software", "xmp"} <= report.categories()
