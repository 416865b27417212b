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

from p2pchat.cli.options import add_language_option
from p2pchat.core.exit_status import EXIT_OK, EXIT_USAGE
from p2pchat.i18n import speaking, t
from p2pchat.i18n.error_words import error_text
from p2pchat.media.report_sentences import describe, describe_note


def register(subparsers: Any) -> None:
    inspect_parser = subparsers.add_parser(
        "inspect",
        help=t("cli.image.inspect_help"),
        description=t("cli.image.inspect_description"),
    )
    inspect_parser.add_argument("file", metavar="FILE", help=t("cli.image.inspect_file"))
    inspect_parser.add_argument("--json", action="store_true", help=t("cli.image.inspect_json"))
    add_language_option(inspect_parser)
    inspect_parser.set_defaults(func=run_inspect)

    sanitize_parser = subparsers.add_parser(
        "sanitize",
        help=t("cli.image.sanitize_help"),
        description=t("cli.image.sanitize_description"),
    )
    sanitize_parser.add_argument("file", metavar="FILE", help=t("cli.image.sanitize_file"))
    sanitize_parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        required=True,
        help=t("cli.image.output_help"),
    )
    sanitize_parser.add_argument("--force", action="store_true", help=t("cli.image.force_help"))
    sanitize_parser.add_argument(
        "--original",
        action="store_true",
        help=t("cli.image.original_help"),
    )
    sanitize_parser.add_argument(
        "--max-side",
        metavar="N",
        type=_max_side,
        help=t("cli.image.max_side_help"),
    )
    sanitize_parser.add_argument(
        "--blur-faces", action="store_true", help=t("cli.image.blur_faces_help")
    )
    sanitize_parser.add_argument(
        "--blur-text",
        action="store_true",
        help=t("cli.image.blur_text_help"),
    )
    sanitize_parser.add_argument("--json", action="store_true", help=t("cli.image.sanitize_json"))
    add_language_option(sanitize_parser)
    sanitize_parser.set_defaults(func=run_sanitize)


def _max_side(value: str) -> int:
    try:
        side = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.image.not_a_number", value=repr(value))) from None
    if not 16 <= side <= 65535:
        raise argparse.ArgumentTypeError(t("cli.image.side_range"))
    return side


def _read_input(path: str, limit: int) -> bytes:
    from p2pchat.core.errors import ImageRejected

    try:
        size = os.stat(path).st_size
        if size > limit:
            values = {"path": path, "size": f"{size / 1_048_576:.1f}"}
            values["limit"] = f"{limit / 1_048_576:.0f}"
            raise ImageRejected(t("cli.image.too_large", **values)).because(
                "cli.image.too_large", **values
            )
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ImageRejected(t("cli.image.cannot_read", path=path, reason=reason)).because(
            "cli.image.cannot_read", path=path, reason=reason
        ) from None


def run_inspect(args: argparse.Namespace) -> int:
    from p2pchat.media.inspect import MAX_INSPECT_BYTES, inspect_image

    report = inspect_image(_read_input(args.file, MAX_INSPECT_BYTES))
    if args.json:
        with speaking("en"):  # for programs: the same words whatever the locale
            print(report.to_json())
        return EXIT_OK
    print(t("cli.image.header", file=args.file, format=report.format, size=_size(report)))
    if not report.findings:
        print("  " + t("cli.image.nothing_found"))
    for finding in report.findings:
        print(f"  [{t(f'cli.image.severity_{finding.severity}'):>6}] {describe(finding)}")
    print(t("cli.image.summary", summary=report.summary()))
    return EXIT_OK


def _size(report: Any) -> str:
    return f"{report.width}x{report.height}"


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
        raise _UsageError(t("cli.image.same_file"))
    if target.is_dir():
        raise _UsageError(t("cli.image.is_directory", target=target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise _UsageError(t("cli.image.no_folder", folder=folder))
    suffix = target.suffix.lower()
    if suffix and suffix not in _ALL_EXTENSIONS:
        raise _UsageError(t("cli.image.bad_extension", name=target.name))
    if target.exists() and not force:
        raise _UsageError(t("cli.image.exists", target=target))


def _final_target(source: Path, target: Path, mime: str, force: bool) -> Path:
    """OUT with the extension of what was written, or a usage error if it disagrees."""
    suffixes = _EXTENSIONS[mime]
    if not target.suffix:
        target = target.with_name(target.name + suffixes[0])
        _check_target(source, target, force)
    elif target.suffix.lower() not in suffixes:
        kind = t("cli.image.kind_png") if mime == "image/png" else "JPEG"
        raise _UsageError(
            t(
                "cli.image.wrong_extension",
                kind=kind,
                name=target.name,
                better=target.with_suffix(suffixes[0]).name,
            )
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
            raise _UsageError(t("cli.image.exists", target=target)) from None
        except OSError as error:
            values = {"target": target, "reason": error.strerror or str(error)}
            raise ImageRejected(t("cli.image.cannot_write", **values)).because(
                "cli.image.cannot_write", **values
            ) from None
    except _UsageError as error:
        print(f"p2pchat: {error_text(error)}", file=sys.stderr)
        return EXIT_USAGE
    report = result.report
    # What the picture shows is told apart from what was removed: it is still there.
    picture = [f for f in report.findings if f.category in CONTENT_CATEGORIES]
    report.findings = [f for f in report.findings if f.category not in CONTENT_CATEGORIES]
    if args.json:
        with speaking("en"):
            removed = report.to_dict()
        print(
            json.dumps(
                {
                    "output": str(target),
                    "mime": result.mime,
                    "width": result.width,
                    "height": result.height,
                    "removed": removed,
                    "picture": [
                        {"category": f.category, "message": f.message, "detail": f.detail}
                        for f in picture
                    ],
                },
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    size = f"{result.width}x{result.height}"
    print(t("cli.image.wrote", target=target, mime=result.mime, size=size, bytes=len(result.data)))
    if report.findings:
        print(t("cli.image.removed"))
        for finding in report.findings:
            print(f"  - {describe(finding)}")
    else:
        print(t("cli.image.removed_nothing"))
    if picture:
        print(t("cli.image.in_picture"))
        for finding in picture:
            print(f"  - {describe(finding)}")
    for note in report.notes:
        print(t("cli.image.note", note=describe_note(note)))
    return EXIT_OK
