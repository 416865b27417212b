"""`inspect_image` names what real photos leak, in words and in machine-readable detail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2pchat.core.errors import ImageRejected
from p2pchat.media.inspect import Finding, PrivacyReport, inspect_image
from p2pchat.media.samples import BODY_SERIAL, TOKYO_TOWER, demo_photo


def report_of(corpus: Path, name: str) -> PrivacyReport:
    return inspect_image((corpus / name).read_bytes())


def only(report: PrivacyReport, category: str) -> list[Finding]:
    return [finding for finding in report.findings if finding.category == category]


def test_gps_coordinates_are_named(corpus: Path) -> None:
    report = report_of(corpus, "nikon-gps-DSCN0010.jpg")
    (gps,) = [f for f in only(report, "gps") if "latitude" in f.detail]
    assert gps.severity == "high"
    assert gps.detail["latitude"] == pytest.approx(43.4674, abs=1e-3)
    assert gps.detail["longitude"] == pytest.approx(11.8851, abs=1e-3)
    assert "43.4674 N 11.8851 E" in gps.message
    assert report.summary().startswith("GPS location 43.47 N 11.89 E; camera NIKON COOLPIX P6000")


def test_drone_xmp_gps_is_found(corpus: Path) -> None:
    report = report_of(corpus, "dji-drone-xmp-gps.tif")
    gps = [f for f in only(report, "gps") if "latitude" in f.detail]
    assert gps and gps[0].detail["latitude"] == pytest.approx(-20.4406, abs=1e-3)
    assert gps[0].detail["longitude"] == pytest.approx(57.3189, abs=1e-3)


def test_serial_numbers_are_named(corpus: Path) -> None:
    report = report_of(corpus, "canon-t3i-serials.jpg")
    (serial,) = only(report, "serial")
    assert "142066080698" in serial.message  # body, EXIF
    assert "ZA2146315" in serial.message  # internal, from the Canon MakerNote
    assert "makernote" in report.categories()


def test_stale_thumbnail_is_flagged(corpus: Path) -> None:
    report = report_of(corpus, "nikon-e5000-stale-thumbnail.jpg")
    thumbnails = only(report, "thumbnail")
    assert any(f.detail.get("stale") and f.severity == "high" for f in thumbnails)
    assert "uncropped" in thumbnails[0].message


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("fujifilm-a303-trailer-hidden-photo.jpg", "embedded_format"),
        ("acropalypse-png-tail.png", "acropalypse"),
    ],
)
def test_hidden_trailer_is_found(corpus: Path, name: str, key: str) -> None:
    (trailer,) = only(report_of(corpus, name), "trailer")
    assert trailer.severity == "high"
    assert key in trailer.detail
    assert trailer.detail["bytes"] > 100_000


def test_face_region_names_person(corpus: Path) -> None:
    (faces,) = only(report_of(corpus, "xmp-face-region-name.jpg"), "faces")
    assert faces.detail["names"] == ["Bill Murray"]


def test_apple_runtime_and_png_text_and_gif_comment(corpus: Path) -> None:
    assert "session" in report_of(corpus, "apple-runtime-gpsdirection.jpg").categories()
    png = report_of(corpus, "png-text-alpha.png")
    assert any(f.detail.get("keyword") == "Comment" for f in only(png, "text"))
    gif = report_of(corpus, "gif-comment.gif")
    assert any("this is a comment" in f.message for f in only(gif, "comment"))


def test_adobe_photo_history_profile_and_photoshop_thumbnail(corpus: Path) -> None:
    report = report_of(corpus, "canon-7d-adobergb-xmp-history.jpg")
    assert {"history", "icc", "photoshop", "place", "person"} <= report.categories()
    assert any(f.detail.get("source") == "Photoshop" for f in only(report, "thumbnail"))
    assert "Adobe RGB (1998)" in only(report, "icc")[0].message


def test_mpo_and_heic_second_images(corpus: Path) -> None:
    assert "frames" in report_of(corpus, "panasonic-lx7-mpo-second-frame.jpg").categories()
    heic = only(report_of(corpus, "iphone13promax.heic"), "frames")
    assert heic and "gain map" in heic[0].message


def test_demo_photo_leaks_everything_it_should() -> None:
    report = inspect_image(demo_photo())
    gps = next(f for f in only(report, "gps") if "latitude" in f.detail)
    assert (gps.detail["latitude"], gps.detail["longitude"]) == pytest.approx(TOKYO_TOWER, abs=1e-4)
    assert BODY_SERIAL in only(report, "serial")[0].message
    assert only(report, "thumbnail")[0].detail.get("stale") is True
    assert only(report, "trailer")[0].detail["embedded_format"] == "JPEG"
    assert {"device", "time", "software"} <= report.categories()


def test_report_round_trips_through_json() -> None:
    report = inspect_image(demo_photo())
    decoded = json.loads(report.to_json())
    assert decoded["summary"] == report.summary()
    assert PrivacyReport.from_dict(decoded).findings == report.findings


def test_clean_image_reports_nothing() -> None:
    from p2pchat.media.sanitize import sanitize

    clean, _ = sanitize(demo_photo())
    report = inspect_image(clean)
    assert report.findings == []
    assert report.summary() == "no metadata found"


@pytest.mark.parametrize("data", [b"", b"\x00" * 64, b"\xff\xd8\xff\xe0garbage", b"GIF89a"])
def test_garbage_is_rejected_not_crashed(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        inspect_image(data)


def test_every_truncation_of_a_real_photo_is_handled(corpus: Path) -> None:
    data = demo_photo()
    reports = 0
    for cut in range(0, len(data), max(1, len(data) // 97)):
        try:
            inspect_image(data[:cut])
            reports += 1
        except ImageRejected:
            pass
    assert reports > 50, "a truncated JPEG still has readable metadata worth reporting"
