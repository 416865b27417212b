"""Hostile inputs: each is refused with a clear ImageRejected, before decoding past the caps."""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.media.inspect import inspect_image
from p2pchat.media.samples import demo_photo
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from p2pchat.media.worker import sanitize_isolated
from tests.media.conftest import png_chunk, png_file, zlib_bomb

SEND = SanitizePolicy()
RECEIVE = SanitizePolicy(side="receive")
# A child with this little address space cannot hold a decoded 100 MP image (300 MB):
# if a bomb is refused with the *cap* message there, it was refused from the header.
SMALL_MEMORY = 256 * 1024 * 1024


@pytest.fixture(scope="module")
def png_400mp_header() -> bytes:
    return png_file(20000, 20000, idat=b"\x78\x01" + b"\x00" * 64)


@pytest.fixture(scope="module")
def png_100mp_bomb() -> bytes:
    data = png_file(10000, 10000)  # 300 MB of RGB zeros in about 300 KB
    assert len(data) < 2_000_000
    return data


@pytest.mark.parametrize("side", [SEND, RECEIVE])
def test_400_megapixel_header_is_refused(png_400mp_header: bytes, side: SanitizePolicy) -> None:
    with pytest.raises(ImageRejected, match="pixels"):
        sanitize_image(png_400mp_header, side)
    with pytest.raises(ImageRejected, match="pixels"):
        inspect_image(png_400mp_header)


def test_100_megapixel_bomb_is_refused_before_decoding(png_100mp_bomb: bytes) -> None:
    with pytest.raises(ImageRejected, match="pixels"):
        sanitize_image(png_100mp_bomb, SEND)
    with pytest.raises(ImageRejected, match="pixels") as refused:
        sanitize_isolated(png_100mp_bomb, RECEIVE, memory_limit=SMALL_MEMORY)
    assert "memory" not in str(refused.value)


@pytest.mark.parametrize("chunk", [b"zTXt", b"iCCP"])
def test_decompression_bomb_chunks_are_refused(chunk: bytes) -> None:
    bomb = zlib_bomb(64 * 1024 * 1024)
    payload = b"Comment\x00\x00" + bomb if chunk == b"zTXt" else b"icc\x00\x00" + bomb
    data = png_file(8, 8, extra_chunks=png_chunk(chunk, payload))
    assert len(data) < 200_000
    with pytest.raises(ImageRejected, match=r"(?i)too large|corrupt|decod"):
        sanitize_isolated(data, SEND, memory_limit=SMALL_MEMORY)
    with pytest.raises(ImageRejected):
        sanitize_image(data, SEND)
    with pytest.raises(ImageRejected, match="too large"):
        inspect_image(data)


def test_tiff_renamed_png_is_refused_on_receive() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "TIFF")
    with pytest.raises(ImageRejected, match="accepted when you receive"):
        sanitize_image(buffer.getvalue(), RECEIVE)
    assert sanitize_image(buffer.getvalue(), SEND).mime == "image/jpeg"


@pytest.mark.parametrize("side", [SEND, RECEIVE])
def test_eps_is_never_handed_to_ghostscript(side: SanitizePolicy) -> None:
    eps = (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
        b"newpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"
    )
    with pytest.raises(ImageRejected, match="not an image format accepted"):
        sanitize_image(eps, side)


def test_truncated_jpeg_is_refused() -> None:
    data = demo_photo()
    with pytest.raises(ImageRejected, match=r"(?i)decod|truncat|corrupt"):
        sanitize_image(data[: len(data) // 2], SEND)


def _gif_with_frames(count: int) -> bytes:
    """A GIF whose first frame is valid and whose other frames are garbage LZW."""
    header = b"GIF89a" + struct.pack("<HHBBB", 4, 4, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    good = Image.new("P", (4, 4), 1)
    good.putpalette([0, 0, 0, 255, 255, 255])
    buffer = io.BytesIO()
    good.save(buffer, "GIF")
    first = buffer.getvalue()
    first_frame = first[first.index(b"\x2c") : -1]  # image descriptor .. before the trailer
    junk = b"\x2c" + struct.pack("<HHHHB", 0, 0, 4, 4, 0) + b"\x02\x02\xff\xff\x00"
    return header + first_frame + junk * (count - 1) + b"\x3b"


def test_gif_with_thousands_of_frames_uses_frame_zero_only() -> None:
    data = _gif_with_frames(5000)
    result = sanitize_image(data, SEND)  # frames 2..5000 are undecodable: never touched
    assert (result.width, result.height) == (4, 4)
    frames = [f for f in inspect_image(data).findings if f.category == "frames"]
    assert frames and frames[0].detail["frames"] == 5000
    with pytest.raises(ImageRejected):
        sanitize_image(data, RECEIVE)


@pytest.mark.parametrize("seed", range(3))
def test_random_bytes_are_refused(seed: int) -> None:
    data = random.Random(seed).randbytes(4096)
    for side in (SEND, RECEIVE):
        with pytest.raises(ImageRejected):
            sanitize_image(data, side)
    with pytest.raises(ImageRejected):
        inspect_image(data)


def test_oversized_input_is_refused_before_parsing() -> None:
    policy = SanitizePolicy(max_input_bytes=1000)
    with pytest.raises(ImageRejected, match="over the"):
        sanitize_image(b"\xff\xd8\xff" + b"\x00" * 2000, policy)


def test_bit_flipped_photos_never_escape_as_other_errors() -> None:
    original = bytearray(demo_photo((160, 120)))
    generator = random.Random(7)
    outcomes = {"clean": 0, "rejected": 0}
    for _ in range(60):
        mutated = bytearray(original)
        for _ in range(8):
            mutated[generator.randrange(len(mutated))] = generator.randrange(256)
        for run in (inspect_image, lambda d: sanitize_image(d, RECEIVE)):
            try:
                run(bytes(mutated))
                outcomes["clean"] += 1
            except ImageRejected:
                outcomes["rejected"] += 1
    assert sum(outcomes.values()) == 120
