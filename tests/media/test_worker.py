"""The isolated worker: same results as in-process; a dying child never takes the caller down."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from p2pchat.core.errors import ImageRejected
from p2pchat.media.samples import demo_photo
from p2pchat.media.sanitize import SanitizePolicy
from p2pchat.media.worker import sanitize_isolated
from tests.media.conftest import png_file
from tests.media.hostile_files import many_scans_jpeg


def test_worker_sanitises_like_the_library() -> None:
    result = sanitize_isolated(demo_photo(), SanitizePolicy(max_long_edge=600))
    assert result.mime == "image/jpeg"
    assert (result.width, result.height) == (600, 450)
    assert Image.open(io.BytesIO(result.data)).size == (600, 450)
    assert {"gps", "serial", "thumbnail", "trailer"} <= result.report.categories()
    assert result.report.notes


def test_worker_reports_rejections_with_the_reason() -> None:
    with pytest.raises(ImageRejected, match="not an image format accepted when you receive"):
        sanitize_isolated(b"%!PS-Adobe-3.0 EPSF-3.0\n", SanitizePolicy(side="receive"))


@pytest.fixture(scope="module")
def heavy_png() -> bytes:
    # 81 MP of zeros (under the pixel cap): at original size, decoding, copying and
    # re-encoding it takes several CPU seconds and about 1 GB.
    return png_file(9000, 9000)


def test_child_killed_by_cpu_rlimit_leaves_the_parent_working() -> None:
    # A few hundred kB that cost libjpeg a minute of CPU: the CPU limit stops it.
    with pytest.raises(ImageRejected, match="needs more processing time than allowed"):
        sanitize_isolated(
            many_scans_jpeg(2048, 20_000),
            SanitizePolicy(max_long_edge=None),
            timeout=120,
            cpu_seconds=1,
        )
    # The parent is fine and the next image goes through.
    assert sanitize_isolated(demo_photo((64, 48))).width == 64


def test_child_out_of_memory_is_refused(heavy_png: bytes) -> None:
    with pytest.raises(ImageRejected, match="it needs more memory than allowed"):
        sanitize_isolated(
            heavy_png,
            SanitizePolicy(max_long_edge=None),
            timeout=120,
            memory_limit=300 * 1024 * 1024,
        )
    assert sanitize_isolated(demo_photo((64, 48))).mime == "image/jpeg"


def test_child_that_cannot_finish_in_time_is_abandoned() -> None:
    with pytest.raises(ImageRejected, match=r"took longer than 0\.001 s"):
        sanitize_isolated(demo_photo(), timeout=0.001)
    assert sanitize_isolated(demo_photo((64, 48))).mime == "image/jpeg"


def test_oversized_input_never_reaches_the_child() -> None:
    with pytest.raises(ImageRejected, match="over the"):
        sanitize_isolated(b"\x00" * 2048, SanitizePolicy(max_input_bytes=1024))
