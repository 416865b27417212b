"""Strip everything but the pixels from an image: DESIGN.md section 5, steps 1 to 7.

Both ends run this: the sender on the user's own file (many formats), the receiver
on what arrived (JPEG and PNG only). The output is rebuilt from decoded pixels,
never copied from the input, and is checked before it is handed back: if anything
but pixels survived, the image is refused rather than sent.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import replace

from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError, features

from p2pchat.core.errors import ImageRejected
from p2pchat.media.alpha import (
    clear_hidden_colour,
    count_hidden_colour,
    hidden_colour_finding,
    split_alpha,
)
from p2pchat.media.containers import (
    MAX_SIDE,
    bomb_refusal,
    register_heif,
    sniff_format,
    walk_jpeg,
    walk_png,
)
from p2pchat.media.inspect import inspect_image
from p2pchat.media.policy import (
    DEFAULT_MAX_INPUT_BYTES,
    DEFAULT_MAX_LONG_EDGE,
    ContentFixes,
    SanitizedImage,
    SanitizePolicy,
    Side,
)
from p2pchat.media.report import Finding, PrivacyReport, importance

JPEG_QUALITY = 85
DRAFT_SLACK = 0.9

SEND_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF") + (
    ("AVIF",) if features.check("avif") else ()
)
# Bytes from a stranger: the two formats the wire carries, nothing else.
RECEIVE_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG")

WHAT_STRIPPING_CANNOT_REMOVE = (
    "Stripping removes metadata, not what the picture shows (faces, street signs, "
    "screens, reflections) nor the camera sensor's noise pattern, which can link "
    "photos to one camera."
)

# JFIF is the only application segment a clean JPEG may carry; these are its keys.
_ALLOWED_JPEG_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
_ALLOWED_PNG_CHUNKS = {"IHDR", "PLTE", "tRNS", "IDAT", "IEND"}

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def sanitize(data: bytes, policy: SanitizePolicy | None = None) -> tuple[bytes, PrivacyReport]:
    """Return clean image bytes and a report of what was removed."""
    result = sanitize_image(data, policy)
    return result.data, result.report


def sanitize_image(data: bytes, policy: SanitizePolicy | None = None) -> SanitizedImage:
    """Decode ``data`` under caps, rebuild it from pixels only, verify, return it."""
    return sanitize_keeping_pixels(data, policy)[0]


def sanitize_keeping_pixels(
    data: bytes, policy: SanitizePolicy | None = None
) -> tuple[SanitizedImage, Image.Image]:
    """``sanitize_image``, and the upright, resized pixels that were encoded.

    The image worker keeps them to check what the picture shows *after* its clean
    copy has been handed back (``check_pixels``): the same pixels the check would
    have seen before the encode, when it only warns and blurs nothing.
    """
    policy = policy or SanitizePolicy()
    data = bytes(data)
    if not data:
        raise ImageRejected("the image is empty")
    if len(data) > policy.max_input_bytes:
        raise ImageRejected(
            f"the image is {len(data) / 1_048_576:.1f} MiB, over the "
            f"{policy.max_input_bytes / 1_048_576:.0f} MiB limit"
        )
    register_heif()
    # A global, but the only safe value: a truncated file must fail, not half-decode.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    notes: list[str] = []
    removed: list[Finding] = []  # found while decoding: inspect cannot see it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # malformed EXIF tags: we drop them anyway
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open_capped(data, policy)
        orientation = _read_orientation(image)
        pixels = _decode(image, policy, notes, removed)
    if orientation in _ORIENTATION_TRANSPOSE:
        pixels = pixels.transpose(_ORIENTATION_TRANSPOSE[orientation])
        notes.append("turned upright using the EXIF orientation")
    if policy.side == "send" and (policy.scan_content or policy.fixes.active):
        pixels = _content_pass(pixels, policy, notes, removed)
    # A new image holding the pixels and nothing else: no `info` (exif, icc_profile, xmp,
    # comment...) can ride along into the encoder. One copy of the pixel buffer, not the
    # two (and a Python bytes object) of tobytes/frombytes: a tenth of a 3 MP photo's time.
    clean = pixels.copy()
    clean.info = {}
    out = io.BytesIO()
    if clean.mode == "RGBA":
        clean.save(out, format="PNG", compress_level=6)
        mime = "image/png"
    else:
        clean.save(out, format="JPEG", quality=JPEG_QUALITY)
        mime = "image/jpeg"
    encoded = out.getvalue()
    _verify_clean(encoded, mime, clean.size)
    report = _report_of_input(data, image, notes, removed)
    return SanitizedImage(encoded, mime, clean.size[0], clean.size[1], report), pixels


def check_pixels(pixels: Image.Image, policy: SanitizePolicy) -> PrivacyReport:
    """What the picture shows, as a report of content findings and notes only.

    For pixels that ``sanitize_keeping_pixels`` has already encoded: nothing is blurred
    (a photo with ``fixes`` to apply is checked before its encode, in ``sanitize_image``).
    """
    notes: list[str] = []
    found: list[Finding] = []
    _content_pass(pixels, replace(policy, fixes=ContentFixes(), scan_content=True), notes, found)
    report = PrivacyReport("", pixels.size[0], pixels.size[1], sorted(found, key=importance))
    report.notes = notes
    return report


def _open_capped(data: bytes, policy: SanitizePolicy) -> ImageFile.ImageFile:
    allowed = RECEIVE_FORMATS if policy.side == "receive" else SEND_FORMATS
    try:
        # MPO is not an opener of its own: Pillow's JPEG opener returns it.
        image = Image.open(io.BytesIO(data), formats=[f for f in allowed if f != "MPO"])
    except UnidentifiedImageError:
        kind = sniff_format(data)
        if kind in allowed:
            # Its own format, but no opener took it: say so, not "wrong format".
            raise ImageRejected(
                f"the image looks like a {kind} file, but its header is corrupt or uses "
                "a variant that cannot be read"
            ) from None
        raise ImageRejected(
            f"not an image format accepted when you {policy.side} "
            f"(accepted: {', '.join(f for f in allowed if f != 'MPO')})"
        ) from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected(
            f"the image declares too many pixels (limit {policy.max_pixels // 1_000_000} "
            "megapixels): refusing a possible decompression bomb"
        ) from None
    except Exception as error:
        bomb = bomb_refusal(error)
        if bomb:
            raise ImageRejected(bomb) from None
        raise ImageRejected(f"the image header is corrupt ({_describe(error)})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected("the image declares no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > policy.max_pixels:
        raise ImageRejected(
            f"the image declares {width}x{height} pixels, over the limit "
            f"(each side <= {MAX_SIDE}, at most {policy.max_pixels // 1_000_000} megapixels)"
        )
    return image


def _read_orientation(image: Image.Image) -> int:
    """EXIF tag 0x0112, read before anything is dropped; HEIF rotates in the container."""
    try:
        value = image.getexif().get(0x0112, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:
        return 1


def _decode(
    image: ImageFile.ImageFile, policy: SanitizePolicy, notes: list[str], removed: list[Finding]
) -> Image.Image:
    """Frame 0 as sRGB pixels (RGB, or RGBA when it has real transparency), downscaled."""
    try:
        declared_size = image.size
        target = _target_size(declared_size, policy.max_long_edge)
        if target != declared_size and image.format in ("JPEG", "MPO"):
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster than a full decode
            # and resize. The long edge is a maximum, so landing within 10 % under it is fine.
            image.draft(
                image.mode, (math.ceil(target[0] * DRAFT_SLACK), math.ceil(target[1] * DRAFT_SLACK))
            )
        image.load()
        if getattr(image, "n_frames", 1) > 1 and image.format not in ("GIF",):
            notes.append("kept the first frame only")
        base, alpha = split_alpha(image)
        icc = image.info.get("icc_profile")
        if alpha is None:
            target = _target_size(base.size, policy.max_long_edge)
            if target != base.size:
                base = base.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
            result = _to_srgb(base, icc, notes)
        else:
            hidden = count_hidden_colour(base, alpha)
            if hidden:
                removed.append(hidden_colour_finding(hidden))
            # Colour first, at full size: then one RGBA resize, which Pillow does on
            # premultiplied pixels, so no colour under a transparent pixel bleeds out.
            result = _to_srgb(base, icc, notes)
            result.putalpha(alpha)
            target = _target_size(result.size, policy.max_long_edge)
            if target != result.size:
                result = result.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
            result = clear_hidden_colour(result)
        if result.size != declared_size:
            notes.append(f"downscaled to {result.size[0]}x{result.size[1]}")
        return result
    except ImageRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageRejected("the image expands to too many pixels: refusing it") from None
    except MemoryError:
        raise ImageRejected(
            "the image needs more memory to decode than allowed; it was refused"
        ) from None
    except Exception as error:
        raise ImageRejected(f"the image could not be decoded ({_describe(error)})") from None


def _content_pass(
    pixels: Image.Image, policy: SanitizePolicy, notes: list[str], removed: list[Finding]
) -> Image.Image:
    """Faces and text found, and blurred when asked; a missing detector only warns."""
    try:
        from p2pchat.media.content_fix import content_pass

        fixed, findings = content_pass(pixels, policy.fixes, scan_content=policy.scan_content)
    except ImportError as error:
        if policy.fixes.active:
            raise ImageRejected(
                f"blurring needs OpenCV, which is not installed ({error.name}): "
                "pip install opencv-python-headless"
            ) from None
        notes.append(f"the picture check is not available (needs {error.name})")
        return pixels
    except MemoryError:
        raise
    except Exception as error:  # the check warns, it never blocks a photo it cannot read
        if policy.fixes.active:
            raise ImageRejected(f"the blur could not be applied ({_describe(error)})") from None
        notes.append(f"the picture check could not run ({type(error).__name__})")
        return pixels
    removed.extend(findings)
    if fixed.mode == "RGBA":
        fixed = clear_hidden_colour(fixed)
    return fixed


def _target_size(size: tuple[int, int], max_long_edge: int | None) -> tuple[int, int]:
    width, height = size
    if max_long_edge is None or max(width, height) <= max_long_edge:
        return size
    scale = max_long_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _to_srgb(base: Image.Image, icc: object, notes: list[str]) -> Image.Image:
    if isinstance(icc, bytes) and icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            name = (source.profile.profile_description or "embedded profile").strip()
            converted = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
            if converted is not None:
                if "srgb" not in name.lower():
                    notes.append(f"converted colours from {name} to sRGB")
                return converted
        except Exception:
            notes.append("the colour profile was unreadable; colours may look slightly off")
    return base if base.mode == "RGB" else base.convert("RGB")


def _verify_clean(encoded: bytes, mime: str, size: tuple[int, int]) -> None:
    """Step 7: the output must be pixels only, or it does not leave."""
    if mime == "image/jpeg":
        container = walk_jpeg(encoded)
        extra = [
            kind
            for kind, payload in container.segments
            if not (kind == "APP0" and payload.startswith(b"JFIF\x00"))
        ]
        allowed_info: set[str | tuple[int, int]] = set(_ALLOWED_JPEG_INFO)
    else:
        container = walk_png(encoded)
        extra = [kind for kind, _payload in container.segments if kind not in _ALLOWED_PNG_CHUNKS]
        allowed_info = set()
    if extra:
        raise ImageRejected(f"refusing to send: the output still carries {', '.join(extra)}")
    if container.problems or container.image_end != len(encoded):
        raise ImageRejected("refusing to send: the output has bytes after the image end")
    try:
        check = Image.open(io.BytesIO(encoded), formats=["JPEG" if mime == "image/jpeg" else "PNG"])
        declared = check.size
        if mime == "image/jpeg":
            # Every byte of the scan is still decoded at 1/8 scale (the inverse DCT is what
            # gets cheaper): a truncated or corrupt output fails here all the same.
            check.draft(check.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
        check.load()
    except Exception as error:
        raise ImageRejected(
            f"refusing to send: the output does not re-open ({_describe(error)})"
        ) from None
    leftover = set(check.info) - allowed_info
    if leftover or len(check.getexif()) or declared != size:
        raise ImageRejected(
            f"refusing to send: the output still carries "
            f"{', '.join(sorted(map(str, leftover))) or 'EXIF'}"
        )


def _report_of_input(
    data: bytes, image: Image.Image, notes: list[str], removed: list[Finding]
) -> PrivacyReport:
    try:
        report = inspect_image(data)
    except Exception:
        report = PrivacyReport(str(image.format), image.size[0], image.size[1], [])
    report.findings = sorted([*report.findings, *removed], key=importance)
    report.notes = [*notes, WHAT_STRIPPING_CANNOT_REMOVE]
    return report


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


__all__ = [
    "DEFAULT_MAX_INPUT_BYTES",
    "DEFAULT_MAX_LONG_EDGE",
    "RECEIVE_FORMATS",
    "SEND_FORMATS",
    "WHAT_STRIPPING_CANNOT_REMOVE",
    "SanitizePolicy",
    "SanitizedImage",
    "Side",
    "check_pixels",
    "sanitize",
    "sanitize_image",
    "sanitize_keeping_pixels",
]
