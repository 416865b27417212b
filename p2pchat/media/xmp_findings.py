"""XMP, IPTC and Photoshop findings: the descriptive and editorial metadata.

XMP is read with plain regular expressions (no XML parser on hostile input, and only
the first ``MAX_XMP_SCAN`` bytes); IPTC through Pillow; Photoshop image resources from
the dict Pillow builds out of a JPEG's APP13 segment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

from PIL import Image

from p2pchat.media.collector import FindingCollector, add_named, as_label, gps_finding
from p2pchat.media.container_findings import thumbnail_finding
from p2pchat.media.containers import MAX_XMP_SCAN
from p2pchat.media.report import Finding

MAX_LISTED_VALUES = 8


_XMP_ATTR = re.compile(r"([A-Za-z][\w.-]*):([A-Za-z][\w-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_XMP_ELEM = re.compile(r"<([A-Za-z][\w.-]*):([A-Za-z][\w-]*)(?:\s[^>]*)?>([^<]*)</\1:\2>")
_XMP_SEQ = re.compile(
    r"<([A-Za-z][\w.-]*):([A-Za-z][\w-]*)(?:\s[^>]*)?>\s*<rdf:(?:Seq|Bag|Alt)[^>]*>(.*?)"
    r"</rdf:(?:Seq|Bag|Alt)>",
    re.S,
)
_XMP_LI = re.compile(r"<rdf:li(?:\s[^>]*)?>([^<]+)</rdf:li>")

_XMP_DEVICE = {"make": "make", "model": "model", "lens": "lens", "lensmodel": "lens"}
_XMP_SERIAL = {
    "serialnumber": "body serial number",
    "bodyserialnumber": "body serial number",
    "lensserialnumber": "lens serial number",
    "internalserialnumber": "internal serial",
    "droneid": "drone id",
    "captureuuid": "capture id",
    "imageuniqueid": "unique image id",
    "cameraserialnumber": "camera serial number",
}
_XMP_TIME = {
    "datetimeoriginal": "taken",
    "createdate": "created",
    "modifydate": "modified",
    "metadatadate": "metadata edited",
    "datecreated": "created",
    "datetimedigitized": "digitised",
}
_XMP_PERSON = {
    "creator": "creator",
    "ownername": "owner",
    "artist": "artist",
    "personinimage": "person shown",
    "rights": "rights",
    "byline": "by-line",
    "authorsposition": "author's position",
    "cameraownername": "camera owner",
    "author": "author",
    "authors": "author",
    "captionwriter": "caption writer",
    "personinimagename": "person shown",
    "personname": "person shown",
    "lastmodifiedby": "modified by",
}
_XMP_PLACE = {
    "city": "city",
    "state": "state",
    "country": "country",
    "location": "location",
    "sublocation": "sub-location",
    "countrycode": "country code",
    "countryname": "country",
    "provincestate": "state",
    "worldregion": "region",
}
_XMP_IDS = {"documentid", "instanceid", "originaldocumentid", "preservedfilename", "rawfilename"}


def _xmp_properties(xmp: str) -> Iterator[tuple[str, str, str]]:
    for match in _XMP_ATTR.finditer(xmp):
        prefix, local = match.group(1), match.group(2)
        if prefix in ("xmlns", "xml", "x"):
            continue
        yield prefix, local, match.group(3) if match.group(3) is not None else match.group(4)
    for match in _XMP_ELEM.finditer(xmp):
        yield match.group(1), match.group(2), match.group(3)
    for match in _XMP_SEQ.finditer(xmp):
        values = [v.strip() for v in _XMP_LI.findall(match.group(3)) if v.strip()]
        if values:
            yield match.group(1), match.group(2), ", ".join(values[:MAX_LISTED_VALUES])


def _xmp_coordinate(value: str) -> float | None:
    """XMP GPS: "35,39.516N", "35,39,31N" (exif:) or a plain decimal (DJI drones)."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    match = re.fullmatch(r"(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?\s*([NSEW])", value)
    if not match:
        return None
    decimal = float(match.group(1)) + float(match.group(2)) / 60
    if match.group(3):
        decimal += float(match.group(3)) / 3600
    return -decimal if match.group(4) in "SW" else decimal


def decode_xmp(raw: bytes) -> str:
    """XMP text in whichever Unicode form it was written (UTF-8, UTF-16 or UTF-32)."""
    head = raw[:MAX_XMP_SCAN]
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16"),
        (b"\xff\xfe", "utf-16"),
    ):
        if head.startswith(bom):
            return head.decode(codec, "replace")
    if head[:4].count(0) == 3:
        return head.decode("utf-32-be" if head[0] == 0 else "utf-32-le", "replace")
    if len(head) > 1 and (head[0] == 0) != (head[1] == 0):  # "<" next to a zero byte
        return head.decode("utf-16-be" if head[0] == 0 else "utf-16-le", "replace")
    return head.decode("utf-8", "replace")


def analyse_xmp(raw: bytes, out: FindingCollector) -> None:
    xmp = decode_xmp(raw)
    lat = lon = None
    gps_prefix = ""
    history: list[str] = []
    region_names: list[str] = []
    regions = bool(re.search(r"RegionInfo|mwg-rs:Regions|MPRI:Regions|ImageRegion", xmp))
    ids: list[str] = []
    for prefix, local, value in _xmp_properties(xmp):
        key = local.lower()
        text = as_label(value)
        if not text:
            continue
        if key in ("gpslatitude", "latitude"):
            lat, gps_prefix = _xmp_coordinate(text), prefix
        elif key in ("gpslongitude", "longitude"):
            lon = _xmp_coordinate(text)
        elif key in _XMP_DEVICE and prefix in ("tiff", "aux", "exifEX", "exif"):
            out.device.setdefault(_XMP_DEVICE[key], text)
        elif key in _XMP_SERIAL:
            out.serials.setdefault(_XMP_SERIAL[key], text)
        elif key in _XMP_TIME:
            out.times.setdefault(_XMP_TIME[key], text)
        elif key in ("creatortool", "softwareagent") or (key == "software" and prefix != "stEvt"):
            out.software.append(text)
        elif key in _XMP_PERSON:
            add_named(out.people, _XMP_PERSON[key], text, f"XMP-{prefix}")
        elif key in _XMP_PLACE:
            add_named(out.places, _XMP_PLACE[key], text, f"XMP-{prefix}")
        elif (
            key in ("persondisplayname", "name")
            and regions
            and prefix in ("MPReg", "mwg-rs", "MP", "Iptc4xmpExt")
        ):
            region_names.append(text)
        elif key == "action" and prefix == "stEvt":
            history.append(text)
        elif key in _XMP_IDS:
            ids.append(f"{local}={text}")
        elif key in (
            "description",
            "title",
            "subject",
            "headline",
            "caption",
            "usercomment",
            "label",
            "keywords",
        ):
            out.add(Finding("comment", "medium", f"XMP {local}: {text!r}.", {local: text}))
    _xmp_thumbnail(xmp, out)
    if lat is not None and lon is not None and not out.gps_done and not (lat == 0 and lon == 0):
        out.add(gps_finding(lat, lon, f"XMP {gps_prefix}".strip(), {}))
        out.gps_done = True
    if "History" in xmp and ("stEvt" in xmp or history):
        out.add(
            Finding(
                "history",
                "medium",
                f"XMP edit history ({len(history)} steps: "
                f"{', '.join(history[:MAX_LISTED_VALUES]) or 'unknown'}): when and with "
                "what the photo was edited.",
                {"actions": history[:32], "short": "edit history"},
            )
        )
    if ids:
        out.add(
            Finding(
                "history",
                "low",
                "XMP document ids: they link this file to its originals and other copies.",
                {"ids": ids[:MAX_LISTED_VALUES]},
            )
        )
    if regions:
        names = list(dict.fromkeys(region_names))
        if names:
            out.add(
                Finding(
                    "faces",
                    "high",
                    f"Face regions tagged with names: {', '.join(names)}.",
                    {"names": names, "short": f"faces named {', '.join(names)}"},
                )
            )
        else:
            out.add(Finding("faces", "medium", "XMP face or object regions are marked.", {}))
    out.add(
        Finding(
            "xmp",
            "low",
            f"An XMP packet ({len(raw)} bytes) of descriptive metadata.",
            {"bytes": len(raw), "short": "XMP metadata"},
        )
    )


# xmp:Thumbnails holds a base64 picture (xmpGImg:image, or xapGImg in old packets) as an
# element or an attribute; its line breaks are often written as "&#xA;".
_XMP_THUMBNAIL = re.compile(r"(?:xmp|xap)GImg:image(?:>|\s*=\s*[\"'])([A-Za-z0-9+/=\s&#xA;]{16,})")


def _xmp_thumbnail(xmp: str, out: FindingCollector) -> None:
    match = _XMP_THUMBNAIL.search(xmp)
    if match is None:
        return
    text = re.sub(r"&#x[aAdD];|\s", "", match.group(1))
    try:
        picture = base64.b64decode(text[: len(text) - len(text) % 4])
    except ValueError:
        picture = b""
    thumbnail_finding("XMP", picture, (0, 0), out)


def analyse_photoshop(resources: dict[int, bytes], out: FindingCollector) -> None:
    names = {
        0x0404: "IPTC",
        0x040C: "thumbnail",
        0x0409: "thumbnail",
        0x0421: "version info",
        0x0425: "IPTC digest",
        0x041E: "URL list",
        0x040B: "URL",
    }
    listed = sorted({names.get(key, f"0x{key:04x}") for key in resources})
    out.add(
        Finding(
            "photoshop",
            "medium",
            f"Photoshop data blocks ({', '.join(listed)}): editing traces.",
            {"resources": listed, "short": "Photoshop data"},
        )
    )
    for key in (0x040C, 0x0409):
        block = resources.get(key)
        if isinstance(block, bytes) and len(block) > 28:
            thumb = block[28:]
            thumbnail_finding("Photoshop", thumb, (0, 0), out)
    version = resources.get(0x0421)
    if isinstance(version, bytes) and b"P\x00h\x00o\x00t\x00o" in version:
        out.software.append("Adobe Photoshop")


def report_xmp(image: Image.Image, xmp_raw: bytes | None, out: FindingCollector) -> None:
    """Read the container's XMP packet (or the one Pillow found) and record what it says."""
    if xmp_raw is None:
        candidate = image.info.get("xmp")
        if isinstance(candidate, bytes | str):
            xmp_raw = candidate.encode("utf-8") if isinstance(candidate, str) else candidate
    if xmp_raw:
        analyse_xmp(xmp_raw, out)
