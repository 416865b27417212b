"""`inspect` says everything a file carries: unknown and vendor blocks, C2PA, IPTC anywhere,
XMP in any namespace or encoding, MakerNote names, raw previews; ranked place, person, serial.

Real files (ExifTool's test images, see tests/data/photos/SOURCES.md) where they exist;
crafted ones, built here, where they do not.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from p2pchat.media.containers import walk_jpeg
from p2pchat.media.inspect import inspect_image
from p2pchat.media.report import Finding, PrivacyReport
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from tests.media.conftest import exiftool_json
from tests.media.test_sanitize_corpus import ALLOWED_TAGS
from tests.photos import photo

# Application segments another reader decodes, or pure structure: never named on their own.
_SILENT = ("JFIF\x00", "JFXX\x00", "Exif\x00", "http://ns.adobe.com/xap/1.0/\x00", "ICC_PROFILE")
_SILENT += ("MPF\x00", "Photoshop 3.0\x00", "Adobe", "JP", "SPIFF\x00", "NITF\x00", "Q ", "AVI1")


def report_of(name: str) -> PrivacyReport:
    return inspect_image(photo(name).read_bytes())


def one(report: PrivacyReport, category: str) -> Finding:
    found = [f for f in report.findings if f.category == category]
    assert found, f"no {category} finding in {report.summary()}"
    return found[0]


def jpeg_with(*segments: tuple[int, bytes]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 90, 60)).save(buffer, format="JPEG")
    base = buffer.getvalue()
    inserted = b"".join(
        bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body for marker, body in segments
    )
    return base[:2] + inserted + base[2:]


def png_with(*chunks: tuple[bytes, bytes]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buffer, format="PNG")
    base = buffer.getvalue()
    extra = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )
    return base[:33] + extra + base[33:]  # after IHDR


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body) + 8) + kind + body


def jumbf(label: str, content_type: bytes, *children: bytes) -> bytes:
    uuid = content_type + b"\x00\x11\x00\x10\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return box(
        b"jumb", box(b"jumd", uuid + b"\x03" + label.encode() + b"\x00") + b"".join(children)
    )


def cbor_map(pairs: dict[str, object]) -> bytes:
    def item(value: object) -> bytes:
        if isinstance(value, str):
            raw = value.encode()
            return bytes([0x78, len(raw)]) + raw
        if isinstance(value, dict):
            return cbor_map(value)  # type: ignore[arg-type]
        raise TypeError(value)

    return bytes([0xA0 + len(pairs)]) + b"".join(item(k) + item(v) for k, v in pairs.items())


def c2pa_store() -> bytes:
    creative_work = json.dumps({"author": [{"@type": "Person", "name": "Hanako Yamada"}]})
    exif = cbor_map({"exif:GPSLatitude": "35,39.516N", "city": "Kyoto", "make": "ExampleCam"})
    return jumbf(
        "c2pa",
        b"c2pa",
        jumbf(
            "urn:uuid:0001",
            b"c2ma",
            jumbf(
                "c2pa.assertions",
                b"c2as",
                jumbf(
                    "stds.schema-org.CreativeWork", b"json", box(b"json", creative_work.encode())
                ),
                jumbf("stds.exif", b"cbor", box(b"cbor", exif)),
            ),
        ),
    )


# ---------------------------------------------------------------- real files


def test_every_vendor_or_unknown_jpeg_segment_is_named() -> None:
    data = photo("exiftool-c2pa-vendor-segments.jpg").read_bytes()
    report = inspect_image(data)
    named = {f.detail.get("where") for f in report.findings if f.category in ("vendor", "unknown")}
    expected = {
        kind
        for kind, payload in walk_jpeg(data).segments
        if kind != "COM" and not payload.startswith(tuple(s.encode("latin-1") for s in _SILENT))
    }
    assert {"APP0", "APP2", "APP3", "APP5", "APP7", "APP9", "APP11", "APP12"} <= expected
    assert expected <= named
    rmeta = next(f for f in report.findings if f.detail.get("where") == "APP5")
    assert "Roundabout" in rmeta.message and "Ricoh" in rmeta.message


def test_c2pa_manifest_labels_author_and_place_from_app11() -> None:
    report = report_of("exiftool-c2pa-vendor-segments.jpg")
    manifest = one(report, "provenance")
    assert "cai.location.broad" in manifest.detail["labels"]
    assert "C2PA" in manifest.message
    assert "Salem, Oregon" in one(report, "place").message
    assert "Alisha Jucevic" in one(report, "person").message
    assert one(report, "thumbnail")  # the JFXX thumbnail in APP0
    assert report.summary().startswith("place ")


def test_iptc_inside_an_afcp_trailer() -> None:
    report = report_of("exiftool-afcp-iptc-trailer.jpg")
    iptc = one(report, "iptc")
    assert iptc.detail["where"] == "in an AFCP trailer"
    assert iptc.detail["by-line"] == "byline" and iptc.detail["city"] == "city"
    assert "byline" in one(report, "person").message


def test_canon_makernote_owner_name_and_serial() -> None:
    report = report_of("exiftool-canon-ownername.jpg")
    assert one(report, "person").detail["camera owner"] == "Phil Harvey"
    assert one(report, "serial").detail["body serial number"] == "0560018150"
    assert report.summary().startswith("names camera owner Phil Harvey; serial ")


def test_casio_qvci_segment_decoded() -> None:
    report = report_of("exiftool-casio-qvci.jpg")
    assert one(report, "device").detail["model"] == "KX-778"
    assert one(report, "time").detail["taken"] == "1998:10:24 12:08:57"
    assert one(report, "serial").detail["Casio manufacture number"] == "98082901"
    assert "QVCI" in one(report, "vendor").message


def test_utf16_xmp_is_read() -> None:
    report = report_of("exiftool-xmp-utf16.jpg")
    assert "Kingston" in one(report, "place").message
    assert one(report, "person").detail["caption writer"] == "I wrote it"


@pytest.mark.parametrize(
    ("name", "where", "size"),
    [
        ("raw/exiftool-dng-previews.dng", "SubIFD1", (1024, 683)),
        ("raw/exiftool-nikon-previews.nef", "IFD0", (160, 106)),
        ("raw/exiftool-canon-previews.cr2", "IFD2", (384, 256)),
        ("raw/exiftool-phaseone.iiq", "IFD1", (1, 1)),
    ],
)
def test_raw_previews_are_listed(name: str, where: str, size: tuple[int, int]) -> None:
    report = report_of(name)
    previews = one(report, "preview").detail["previews"]
    assert {"where": where, "width": size[0], "height": size[1]}.items() <= next(
        p for p in previews if p["where"] == where
    ).items()


def test_canon_raw_owner_from_its_makernote() -> None:
    report = report_of("raw/exiftool-canon-previews.cr2")
    assert one(report, "serial").detail["body serial number"] == "0123456789"


# ---------------------------------------------------------------- crafted files


def test_unknown_app4_with_gps_text_and_unknown_app11() -> None:
    data = jpeg_with((0xE4, b"LOC1\x00GPS 35.6586N 139.7454E\x00"), (0xEB, b"XYZW" + bytes(1196)))
    report = inspect_image(data)
    assert any(f.message.startswith("An unknown APP11 block of 1.2 kB") for f in report.findings)
    app4 = next(f for f in report.findings if f.detail.get("where") == "APP4")
    assert "GPS 35.6586N 139.7454E" in app4.message
    gps = one(report, "gps")
    assert gps.detail["source"] == "text in APP4" and gps.detail["latitude"] == 35.6586
    assert report.summary().startswith("GPS location 35.66 N 139.75 E")


def test_xmp_creator_and_author_in_any_namespace() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'pdf:Author="Taro Suzuki" pdf:Creator="Jiro Tanaka" '
        b'Iptc4xmpExt:PersonInImageName="Kenji Sato">'
        b"<dc:creator><rdf:Seq><rdf:li>Hanako Yamada</rdf:li></rdf:Seq></dc:creator>"
        b"<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li><Iptc4xmpExt:City>Nara</Iptc4xmpExt:City>"
        b"</rdf:li></rdf:Bag></Iptc4xmpExt:LocationShown>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    report = inspect_image(jpeg_with((0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)))
    person = one(report, "person").message
    for name in ("Taro Suzuki", "Jiro Tanaka", "Kenji Sato", "Hanako Yamada"):
        assert name in person
    assert "Nara" in one(report, "place").message
    utf16 = inspect_image(
        jpeg_with((0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp.decode().encode("utf-16-be")))
    )
    assert "Taro Suzuki" in one(utf16, "person").message


def test_c2pa_in_a_png_cabx_chunk_json_and_cbor() -> None:
    report = inspect_image(png_with((b"caBX", c2pa_store())))
    manifest = one(report, "provenance")
    assert {"c2pa", "stds.schema-org.CreativeWork", "stds.exif"} <= set(manifest.detail["labels"])
    assert "Hanako Yamada" in one(report, "person").message
    assert "Kyoto" in one(report, "place").message
    assert one(report, "device").detail["make"] == "ExampleCam"


def test_c2pa_split_over_several_app11_segments() -> None:
    store = c2pa_store()
    first, rest = store[:60], store[60:]
    head = b"JP\x00\x01"
    data = jpeg_with(
        (0xEB, head + struct.pack(">I", 1) + first),
        (0xEB, head + struct.pack(">I", 2) + store[:8] + rest),
    )
    assert "Hanako Yamada" in one(inspect_image(data), "person").message


def test_unknown_png_webp_and_gif_blocks_are_named() -> None:
    png = inspect_image(png_with((b"prVW", b"preview of Tokyo Tower" + bytes(2000))))
    finding = one(png, "unknown")
    assert finding.message.startswith("An unknown PNG chunk 'prVW' of 2.0 kB")
    assert "Tokyo Tower" in finding.message
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="WEBP")
    webp = buffer.getvalue()
    extra = b"ABCD" + struct.pack("<I", 12) + b"owner: Akiko"
    webp = webp[:4] + struct.pack("<I", len(webp) - 8 + len(extra)) + webp[8:] + extra
    assert "owner: Akiko" in one(inspect_image(webp), "unknown").message
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, format="GIF")
    gif = buffer.getvalue()
    block = b"\x21\xff\x0bVENDORXX1.0\x0csecret notes\x00"
    gif = gif[:-1] + block + gif[-1:]
    assert "VENDORXX1.0" in one(inspect_image(gif), "unknown").message


def test_findings_are_ranked_place_person_serial_first() -> None:
    report = report_of("exiftool-c2pa-vendor-segments.jpg")
    categories = [f.category for f in report.findings]
    assert categories[:3] == ["place", "person", "device"]  # no GPS, no serial in this file
    casio = [f.category for f in report_of("exiftool-casio-qvci.jpg").findings]
    assert casio.index("serial") < casio.index("device")


def test_crafted_files_come_out_clean_under_exiftool(tmp_path: Path) -> None:
    crafted = {
        "app4-app11.jpg": jpeg_with((0xE4, b"GPS 35.6586N 139.7454E"), (0xEB, bytes(1200))),
        "c2pa-app11.jpg": jpeg_with((0xEB, b"JP\x00\x01" + struct.pack(">I", 1) + c2pa_store())),
        "c2pa-cabx.png": png_with((b"caBX", c2pa_store()), (b"prVW", b"Tokyo")),
    }
    paths = []
    for name, data in crafted.items():
        assert inspect_image(data).findings, name
        result = sanitize_image(data, SanitizePolicy(side="receive"))
        path = tmp_path / name
        path.write_bytes(result.data)
        paths.append(path)
        assert inspect_image(result.data).findings == [], name
    for name, tags in exiftool_json(paths).items():
        leaks = {
            k: v for k, v in tags.items() if k not in ALLOWED_TAGS and not k.startswith("System:")
        }
        assert leaks == {}, f"{name}: {leaks}"


def test_iptc_in_a_png_raw_profile_text_chunk() -> None:
    record = b"\x1c\x02\x50\x00\x0bAiko Mori  \x1c\x02\x5a\x00\x07Sapporo"
    text = f"\niptc\n{len(record):8d}\n{record.hex()}\n".encode()
    for kind, body in (
        (b"tEXt", b"Raw profile type iptc\x00" + text),
        (b"zTXt", b"Raw profile type iptc\x00\x00" + zlib.compress(text)),
    ):
        report = inspect_image(png_with((kind, body)))
        assert one(report, "iptc").detail["where"] == f"in a PNG {kind.decode()} chunk"
        assert "Aiko Mori" in one(report, "person").message
        assert "Sapporo" in one(report, "place").message


def test_heif_c2pa_uuid_box_and_unknown_top_level_box() -> None:
    heic = photo("iphone13promax.heic").read_bytes()
    c2pa_uuid = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
    payload = c2pa_uuid + b"\x00\x00\x00\x00manifest\x00" + bytes(8) + c2pa_store()
    data = heic + box(b"uuid", payload) + box(b"xtra", b"owner Ichiro")
    report = inspect_image(data)
    assert "a HEIF uuid box" in one(report, "provenance").message
    assert "Hanako Yamada" in one(report, "person").message
    assert "owner Ichiro" in one(report, "unknown").message


def test_iptc_extension_image_region_names_a_face() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
        b"<Iptc4xmpExt:ImageRegion><rdf:Bag><rdf:li rdf:parseType='Resource'>"
        b"<Iptc4xmpExt:Name>Yuki Ito</Iptc4xmpExt:Name>"
        b"</rdf:li></rdf:Bag></Iptc4xmpExt:ImageRegion>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    report = inspect_image(jpeg_with((0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp)))
    assert one(report, "faces").detail["names"] == ["Yuki Ito"]
