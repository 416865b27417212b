"""`p2pchat inspect FILE` and `p2pchat sanitize FILE -o OUT`: what a photo leaks, and a clean copy.

``inspect`` prints the privacy report (``--json`` for scripts). ``sanitize`` runs the
same pipeline as sending a photo (in the isolated worker), writes the clean image
atomically next to OUT, never over the input, and says what was removed. OUT's
extension must match what was written (``.jpg``/``.jpeg`` for JPEG, ``.png`` for PNG,
which the cleaner picks when the photo keeps transparency); without one it is added.
An existing OUT is replaced only with ``--force``. A bad OUT (missing folder, wrong
extension, existing file) is a usage error (2); a file that is not an acceptable
image exits with 5 (EXIT_INPUT_REJECTED).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    inspect_parser = subparsers.add_parser(
        "inspect",
        help="show what a photo reveals besides its pixels (GPS, camera, serials, hidden data)",
        description="List the metadata and hidden data a photo carries, in plain words.",
    )
    inspect_parser.add_argument("file", metavar="FILE", help="the image to inspect")
    inspect_parser.add_argument("--json", action="store_true", help="print the report as JSON")
    inspect_parser.set_defaults(func=run_inspect)

    sanitize_parser = subparsers.add_parser(
        "sanitize",
        help="write a copy of a photo with all metadata and hidden data removed",
        description=(
            "Rebuild the photo from its pixels only (upright, sRGB, at most 2048 px on the "
            "long edge unless --original), verify the result, and write it to OUT."
        ),
    )
    sanitize_parser.add_argument("file", metavar="FILE", help="the image to clean")
    sanitize_parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help=(
            "where to write the clean image (not the input file); its extension must match "
            "the clean image (.jpg, or .png when the photo keeps transparency), or is added"
        ),
    )
    sanitize_parser.add_argument(
        "--force", action="store_true", help="replace OUT if it already exists"
    )
    sanitize_parser.add_argument(
        "--original",
        action="store_true",
        help="keep the original size instead of 2048 px on the long edge",
    )
    sanitize_parser.add_argument(
        "--max-side",
        metavar="N",
        type=_max_side,
        help="lower the resolution on purpose: at most N px on the long edge (e.g. 1024, 640)",
    )
    sanitize_parser.add_argument(
        "--blur-faces", action="store_true", help="pixelate every face the picture check finds"
    )
    sanitize_parser.add_argument(
        "--blur-text",
        action="store_true",
        help="pixelate every line of text the picture check finds (cards, receipts, signs)",
    )
    sanitize_parser.add_argument(
        "--json", action="store_true", help="print what was removed as JSON"
    )
    sanitize_parser.set_defaults(func=run_sanitize)


def _max_side(value: str) -> int:
    try:
        side = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of pixels") from None
    if not 16 <= side <= 65535:
        raise argparse.ArgumentTypeError("the long edge must be between 16 and 65535 px")
    return side


def _read_input(path: str, limit: int) -> bytes:
    from p2pchat.core.errors import ImageRejected

    try:
        size = os.stat(path).st_size
        if size > limit:
            raise ImageRejected(
                f"{path} is {size / 1_048_576:.1f} MiB, over the {limit / 1_048_576:.0f} MiB limit"
            )
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as error:
        raise ImageRejected(f"cannot read {path}: {error.strerror or error}") from None


def run_inspect(args: argparse.Namespace) -> int:
    from p2pchat.media.inspect import MAX_INSPECT_BYTES, inspect_image

    report = inspect_image(_read_input(args.file, MAX_INSPECT_BYTES))
    if args.json:
        print(report.to_json())
        return EXIT_OK
    print(f"{args.file}: {report.format} {report.width}x{report.height}")
    if not report.findings:
        print("  nothing found besides the pixels")
    for finding in report.findings:
        print(f"  [{finding.severity:>6}] {finding.message}")
    print(f"summary: {report.summary()}")
    return EXIT_OK


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


_EXTENSIONS = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}
_ALL_EXTENSIONS = {suffix for suffixes in _EXTENSIONS.values() for suffix in suffixes}


class _UsageError(Exception):
    """A bad OUT: reported with exit 2, nothing written."""


def _check_target(source: Path, target: Path, force: bool) -> None:
    """What can be said about OUT before the (slow) cleaning."""
    if _same_file(source, target):
        raise _UsageError("refusing to overwrite the input; choose another -o OUT")
    if target.is_dir():
        raise _UsageError(f"{target} is a directory; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise _UsageError(f"the folder {folder} does not exist; create it first")
    suffix = target.suffix.lower()
    if suffix and suffix not in _ALL_EXTENSIONS:
        raise _UsageError(
            f"{target.name}: the clean image is a JPEG or a PNG; name it .jpg or .png "
            "(or give no extension and the right one is added)"
        )
    if target.exists() and not force:
        raise _UsageError(f"{target} already exists; use --force to replace it")


def _final_target(source: Path, target: Path, mime: str, force: bool) -> Path:
    """OUT with the extension of what was written, or a usage error if it disagrees."""
    suffixes = _EXTENSIONS[mime]
    if not target.suffix:
        target = target.with_name(target.name + suffixes[0])
        _check_target(source, target, force)
    elif target.suffix.lower() not in suffixes:
        kind = "PNG (it keeps the photo's transparency)" if mime == "image/png" else "JPEG"
        raise _UsageError(
            f"the clean image is a {kind}, not what {target.name} says: "
            f"name it {target.with_suffix(suffixes[0]).name}"
        )
    return target


def _write_atomically(target: Path, data: bytes, force: bool) -> None:
    directory = target.parent if str(target.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temporary, target)
        else:
            # A hard link never replaces: a file that appeared meanwhile is kept.
            try:
                os.link(temporary, target)
            except FileExistsError:
                raise
            except OSError:  # no hard links here (FAT, some shares): check, then rename
                if os.path.lexists(target):
                    raise FileExistsError(target) from None
                os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def run_sanitize(args: argparse.Namespace) -> int:
    from p2pchat.core.errors import ImageRejected
    from p2pchat.media.content_fix import CONTENT_CATEGORIES, ContentFixes
    from p2pchat.media.sanitize import SanitizePolicy
    from p2pchat.media.worker import sanitize_isolated

    source, target = Path(args.file), Path(args.output)
    try:
        _check_target(source, target, args.force)
        policy = SanitizePolicy(
            max_long_edge=args.max_side or (None if args.original else 2048),
            scan_content=True,
            fixes=ContentFixes(blur_faces=args.blur_faces, blur_text=args.blur_text),
        )
        data = _read_input(args.file, policy.max_input_bytes)
        result = sanitize_isolated(data, policy, wording="clean")
        target = _final_target(source, target, result.mime, args.force)
        try:
            _write_atomically(target, result.data, args.force)
        except FileExistsError:
            raise _UsageError(f"{target} already exists; use --force to replace it") from None
        except OSError as error:
            raise ImageRejected(f"cannot write {target}: {error.strerror or error}") from None
    except _UsageError as error:
        print(f"p2pchat: {error}", file=sys.stderr)
        return EXIT_USAGE
    report = result.report
    # What the picture shows is told apart from what was removed: it is still there.
    picture = [f for f in report.findings if f.category in CONTENT_CATEGORIES]
    report.findings = [f for f in report.findings if f.category not in CONTENT_CATEGORIES]
    if args.json:
        print(
            json.dumps(
                {
                    "output": str(target),
                    "mime": result.mime,
                    "width": result.width,
                    "height": result.height,
                    "removed": report.to_dict(),
                    "picture": [
                        {"category": f.category, "message": f.message, "detail": f.detail}
                        for f in picture
                    ],
                },
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    print(
        f"wrote {target} ({result.mime}, {result.width}x{result.height}, {len(result.data)} bytes)"
    )
    if report.findings:
        print("removed:")
        for finding in report.findings:
            print(f"  - {finding.message}")
    else:
        print("removed: nothing besides the pixels was found")
    if picture:
        print("in the picture (only you see this; look yourself too):")
        for finding in picture:
            print(f"  - {finding.message}")
    for note in report.notes:
        print(f"note: {note}")
    return EXIT_OK
