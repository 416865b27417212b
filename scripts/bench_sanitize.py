"""Benchmark the sanitiser: a 12 MP photo, and the whole corpus against mat2 in the same run.

    .venv/bin/python scripts/bench_sanitize.py [CORPUS_DIR]

DESIGN.md section 8: "sanitize a 12 MP photo: <= 0.4 s median; batch faster than mat2
on the same files". Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from p2pchat.core.errors import ImageRejected
from p2pchat.media.samples import demo_photo
from p2pchat.media.sanitize import SanitizePolicy, sanitize_image

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "photos"
SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".heic"}
RUNS = 7


def _corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.rglob("*") if p.suffix.lower() in SUFFIXES)


def twelve_megapixel_photo() -> bytes:
    """The demo photo at 4000x3000, with sensor-like noise so it compresses like a real one."""
    import io

    from PIL import Image

    plain = demo_photo((4000, 3000))
    scene = Image.open(io.BytesIO(plain))
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    noisy = Image.blend(scene.convert("RGB"), noise, 0.25)
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=92, exif=scene.info["exif"])
    return out.getvalue()


def bench(corpus_dir: Path | str = DEFAULT_CORPUS, runs: int = RUNS) -> dict[str, object]:
    """Median time for a 12 MP JPEG, and p2pchat vs mat2 over every corpus file."""
    corpus_dir = Path(corpus_dir)
    photo = twelve_megapixel_photo()
    policy = SanitizePolicy()
    sanitize_image(photo, policy)  # warm-up: imports, ICC setup
    per_photo = []
    for _ in range(runs):
        start = time.perf_counter()
        sanitize_image(photo, policy)
        per_photo.append(time.perf_counter() - start)

    files = _corpus_files(corpus_dir)
    rejected = 0
    start = time.perf_counter()
    for path in files:
        try:
            sanitize_image(path.read_bytes(), policy)
        except ImageRejected:
            rejected += 1
    p2pchat_batch = time.perf_counter() - start

    mat2_batch: float | None = None
    mat2_failures = 0
    if shutil.which("mat2"):
        with tempfile.TemporaryDirectory(prefix="bench-mat2-") as scratch:
            copies = []
            for index, path in enumerate(files):
                copy = Path(scratch) / f"{index:03d}-{path.name}"
                shutil.copyfile(path, copy)
                copies.append(copy)
            start = time.perf_counter()
            for copy in copies:
                done = subprocess.run(["mat2", str(copy)], capture_output=True, check=False)
                mat2_failures += done.returncode != 0
            mat2_batch = time.perf_counter() - start
    return {
        "photo_12mp_median_s": statistics.median(per_photo),
        "photo_12mp_runs": len(per_photo),
        "corpus_files": len(files),
        "p2pchat_batch_s": p2pchat_batch,
        "p2pchat_rejected": rejected,
        "mat2_batch_s": mat2_batch,
        "mat2_failures": mat2_failures,
    }


def main() -> int:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    result = bench(corpus)
    mat2 = result["mat2_batch_s"]
    print(f"{'measure':<44}{'value':>12}  target")
    print(
        f"{'sanitize 12 MP JPEG, median of ' + str(result['photo_12mp_runs']):<44}"
        f"{result['photo_12mp_median_s']:>11.3f}s  <= 0.400 s"
    )
    print(
        f"{'corpus (' + str(result['corpus_files']) + ' files), p2pchat':<44}"
        f"{result['p2pchat_batch_s']:>11.3f}s  < mat2"
    )
    if isinstance(mat2, float):
        print(f"{'corpus, mat2 (same files, same run)':<44}{mat2:>11.3f}s  anchor")
        print(f"{'p2pchat / mat2':<44}{result['p2pchat_batch_s'] / mat2:>12.2f}  < 1.00")  # type: ignore[operator]
    else:
        print("mat2 is not installed: no anchor (Debian package mat2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
