"""Throw every file of a folder at the image pipeline, the way the outside audit does.

    PYTHONPATH=$PWD .venv/bin/python scripts/audit_images.py FOLDER [--jobs 2] [--timeout 90]

Each file goes, in a child process of its own (a timeout and an address-space limit,
so a hang or a memory blow-up is recorded, not suffered), through:

- ``p2pchat inspect FILE`` and ``p2pchat inspect --json FILE`` (the CLI's ``main``);
- ``p2pchat sanitize FILE -o OUT`` (the CLI, which cleans in the isolated worker);
- the send path: ``media.worker.sanitize_async`` with the policy
  ``ChatService.prepare_image`` builds (worker, picture check on);
- ``sanitize_image`` in-process for both sides (the worker hides a traceback as
  "invalid: TypeName"; here it shows), and the receive side on the clean output,
  which must always be accepted.

Then one ``exiftool -j -a -G0:1`` over every original and every clean output: any tag
in a clean output besides the container basics is a LEAK; a privacy-relevant kind
exiftool sees in an original (GPS, serials, owner names, capture times, thumbnails,
XMP, maker notes, comments, IPTC, trailers) that ``inspect`` does not name is a MISS.

A file the in-process sanitiser refuses skips the two worker runs (the worker runs the
same code; set AUDIT_ALL_WORKERS=1 to run them anyway); one it accepts but the worker
refuses (memory, time) is WORKER-REFUSED. The table goes to stdout; the exit status
is 1 if any file had a traceback, a hang, a crash, a leak, a miss, or a clean output
the receiver refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBE_MEMORY = 3 * 1024 * 1024 * 1024

# exiftool groups (family 0) a clean output may show: the file system, the container.
_CLEAN_GROUPS = {"ExifTool", "File", "JFIF", "Composite", "System"}
_CLEAN_PNG_TAGS = {
    "ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter",
    "Interlace", "Palette", "Transparency",
}  # fmt: skip

# Privacy-relevant kinds: an exiftool tag (group:name) pattern, and the inspect
# categories (or words) that count as naming it.
_KINDS: dict[str, tuple[re.Pattern[str], set[str]]] = {
    "gps": (re.compile(r":GPS(Latitude|Longitude|Position)$"), {"gps", "location"}),
    "serial": (
        re.compile(r":(\w*SerialNumber|InternalSerialNumber|SerialNum)$", re.I),
        {"serial"},
    ),
    "owner": (
        re.compile(r":(OwnerName|Artist|By-line|Creator|Author|CameraOwnerName|Copyright)$"),
        {"person", "owner"},
    ),
    "time": (re.compile(r":(DateTimeOriginal|CreateDate|DateCreated)$"), {"time", "time_only"}),
    "thumbnail": (
        re.compile(r":(ThumbnailImage|ThumbnailTIFF|PreviewImage|JpgFromRaw|OtherImage)$"),
        {"thumbnail", "preview", "frames"},
    ),
    "xmp": (re.compile(r"^XMP:"), {"xmp"}),
    "makernote": (re.compile(r"^MakerNotes:"), {"makernote"}),
    "iptc": (re.compile(r"^IPTC:"), {"iptc"}),
    "comment": (re.compile(r"^(File|PNG|GIF|JPEG):Comment$"), {"comment", "text"}),
    "device": (re.compile(r":(Make|Model|LensModel|CameraModelName)$"), {"device"}),
    # Not File:Software: exiftool derives that from a PCX header's version byte.
    "software": (
        re.compile(r"^(?!File:).*:(Software|CreatorTool|HistorySoftwareAgent)$"),
        {"software"},
    ),
    "place": (re.compile(r":(City|Country|Sub-location|Province-State|Location)$"), {"place"}),
    "geotiff": (
        re.compile(r":(ModelTiePoint|ModelTransform|GeoTiffDirectory)$"),
        {"gps", "geotiff"},
    ),
}


# -- child side ----------------------------------------------------------------


def _cli(argv: list[str]) -> dict[str, Any]:
    """Run ``p2pchat ARGV`` in this process; exit code, output, and any traceback."""
    from p2pchat.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    result: dict[str, Any] = {}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result["rc"] = main(argv)
        except SystemExit as exit_:
            result["rc"] = exit_.code
        except BaseException:
            result["rc"] = "tb"
            result["traceback"] = traceback.format_exc(limit=8)
    result["stdout"] = out.getvalue()  # whole: inspect --json is parsed; dropped after
    result["stderr"] = err.getvalue()[-1000:]
    return result


def _call(step: str, results: dict[str, Any], func: Any, *args: Any) -> Any:
    """``func(*args)``: an ImageRejected is an answer, anything else a traceback."""
    from p2pchat.core.errors import ImageRejected

    try:
        value = func(*args)
    except ImageRejected as error:
        results[step] = {"rc": "rejected", "stderr": str(error)[:300]}
        return None
    except BaseException:
        results[step] = {"rc": "tb", "traceback": traceback.format_exc(limit=8)}
        return None
    results[step] = {"rc": 0}
    return value


def probe(path: str, outdir: str) -> dict[str, Any]:
    from dataclasses import replace

    from p2pchat.media.content_fix import ContentFixes
    from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
    from p2pchat.media.worker import sanitize_async

    results: dict[str, Any] = {"file": path}
    results["inspect"] = _cli(["inspect", path])
    shown = _cli(["inspect", "--json", path])
    if shown["rc"] == 0:
        try:
            report = json.loads(shown["stdout"])
            shown["categories"] = sorted({f["category"] for f in report["findings"]})
            # Not the "read in part" note: it lists kinds it looked for, not ones it found.
            found = [f for f in report["findings"] if f["category"] != "partial"]
            shown["words"] = " ".join(f["message"] for f in found)[:20000]
            shown["format"] = report.get("format")
        except (ValueError, KeyError, TypeError) as error:
            shown["rc"] = "tb"
            shown["traceback"] = f"inspect --json printed no report: {error!r}"
    shown.pop("stdout", None)
    results["inspect_json"] = shown
    results["inspect"].pop("stdout", None)
    data = Path(path).read_bytes()
    sent_here = _call("send_inproc", results, sanitize_image, data, SanitizePolicy())
    receive = SanitizePolicy(max_long_edge=None, side="receive")
    _call("receive_raw", results, sanitize_image, data, receive)
    results["output"] = None
    if sent_here is None and not os.environ.get("AUDIT_ALL_WORKERS"):
        # The worker runs this same sanitize_image: a refusal here is a refusal there.
        return results
    target = os.path.join(outdir, "clean")
    results["sanitize_cli"] = _cli(["sanitize", path, "-o", target, "--force"])
    results["sanitize_cli"].pop("stdout", None)
    written = [p for p in (target + ".jpg", target + ".png") if os.path.exists(p)]
    results["output"] = written[0] if written else None
    # ChatService.prepare_image: the configured policy, picture check on, in the worker.
    send_policy = replace(SanitizePolicy(), scan_content=True, fixes=ContentFixes())
    sent = _call("send_worker", results, lambda: asyncio.run(sanitize_async(data, send_policy)))
    if sent is not None:
        _call("receive_clean", results, sanitize_image, sent.data, receive)
        results["send_mime"] = sent.mime
    if sent_here is not None and sent is None:
        results["worker_differs"] = True
    return results


# -- parent side ---------------------------------------------------------------


def _limit_child() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY, PROBE_MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_one(path: Path, workdir: Path, timeout: float) -> dict[str, Any]:
    outdir = Path(tempfile.mkdtemp(dir=workdir))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, __file__, "--probe", str(path), str(outdir)]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout, env=env, preexec_fn=_limit_child
        )
    except subprocess.TimeoutExpired:
        return {"file": str(path), "hang": True}
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode(errors="replace")[-600:]
        return {"file": str(path), "crash": f"probe exit {done.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def exiftool_tags(paths: list[str]) -> dict[str, dict[str, Any]]:
    """``exiftool -j -a -G0:1`` over many files at once (one process)."""
    if not paths or shutil.which("exiftool") is None:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(paths), 200):
        batch = paths[start : start + 200]
        done = subprocess.run(
            ["exiftool", "-j", "-a", "-G0:1", "-s", "-m", "-q", "-q", "--", *batch],
            capture_output=True,
            timeout=600,
        )
        with contextlib.suppress(ValueError):
            for entry in json.loads(done.stdout.decode(errors="replace") or "[]"):
                found[entry.get("SourceFile", "")] = entry
    return found


def leaks_of(tags: dict[str, Any]) -> list[str]:
    """Tags of a clean output that are more than the container's basics."""
    leaks = []
    for key in tags:
        if key == "SourceFile":
            continue
        group, _, name = key.rpartition(":")
        family0 = group.split(":")[0]
        if family0 in _CLEAN_GROUPS and not (family0 == "ExifTool" and name != "ExifToolVersion"):
            continue
        if family0 == "PNG" and name in _CLEAN_PNG_TAGS:
            continue
        leaks.append(key)
    return leaks


def misses_of(tags: dict[str, Any], categories: set[str], words: str) -> list[str]:
    """Privacy-relevant kinds exiftool shows in an original that inspect did not name."""
    missed = []
    for kind, (pattern, wanted) in _KINDS.items():
        hits = [k for k, v in tags.items() if pattern.search(k) and _meaningful(v)]
        if kind == "thumbnail" and str(tags.get("EXIF:IFD0:Compression", "")).startswith("JPEG"):
            # exiftool names a JPEG-compressed TIFF's own image data "PreviewImage".
            hits = [k for k in hits if k != "EXIF:IFD0:PreviewImage"]
        if not hits or categories & wanted or kind in words.lower():
            continue
        # A value inspect quotes is named, whatever category it filed it under (dates
        # compared by their digits: 2002:06:20 is 20020620).
        if any(_quoted(str(tags[k]), words) for k in hits):
            continue
        missed.append(f"{kind}({hits[0]})")
    return missed


def _meaningful(value: object) -> bool:
    """Not empty, and not a zero placeholder ("0", "0000:00:00 00:00:00")."""
    text = str(value).strip()
    return bool(text) and bool(re.sub(r"[\s0:.\-+/]", "", text))


def _quoted(value: str, words: str) -> bool:
    value = value.strip().lower()[:24]
    digits = re.sub(r"\D", "", value)
    return value in words.lower() or (len(digits) >= 8 and digits in re.sub(r"\D", "", words))


def classify(result: dict[str, Any]) -> list[str]:
    problems = []
    if result.get("hang"):
        return ["HANG"]
    if result.get("crash"):
        return ["CRASH"]
    for step in ("inspect", "inspect_json", "sanitize_cli", "send_worker", "send_inproc",
                 "receive_raw", "receive_clean"):  # fmt: skip
        outcome = result.get(step)
        if outcome and outcome.get("rc") == "tb":
            problems.append(f"TB:{step}")
        if step == "receive_clean" and outcome and outcome.get("rc") == "rejected":
            problems.append("CLEAN-REFUSED")
    worker = result.get("send_worker", {}).get("stderr", "")
    if re.search(r"\(\w+(Error|Exception)\)|invalid: [A-Z]\w+$", worker):
        problems.append("TB:worker-hidden")
    if result.get("worker_differs"):
        problems.append("WORKER-REFUSED")
    if result.get("leaks"):
        problems.append("LEAK")
    if result.get("misses"):
        problems.append("MISS")
    return problems


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        print(json.dumps(probe(sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="also write every result here")
    parser.add_argument("--verbose", action="store_true", help="print every file, not failures")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.is_file() and not p.is_symlink())
    with tempfile.TemporaryDirectory(prefix="audit_images.") as work:
        workdir = Path(work)
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results = list(pool.map(lambda p: run_one(p, workdir, args.timeout), files))
        originals = exiftool_tags([str(p) for p in files])
        outputs = exiftool_tags([r["output"] for r in results if r.get("output")])
        for result in results:
            if result.get("output"):
                result["leaks"] = leaks_of(outputs.get(result["output"], {}))
            shown = result.get("inspect_json", {})
            if shown.get("rc") == 0:
                result["misses"] = misses_of(
                    originals.get(result["file"], {}),
                    set(shown.get("categories", [])),
                    shown.get("words", ""),
                )
    return report(results, args)


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> int:
    failing = 0
    kinds: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    print(f"{'file':<60} {'format':<8} {'inspect':<8} {'send':<9} {'receive':<9} problems")
    for result in results:
        problems = classify(result)
        kinds.update(p.split(":")[0] if p.startswith("TB") else p for p in problems)
        fmt = str(result.get("inspect_json", {}).get("format") or "-")
        formats[fmt] += 1
        failing += bool(problems)
        if not (problems or args.verbose):
            continue
        name = os.path.relpath(result["file"], args.folder)[-60:]
        inspect = str(result.get("inspect", {}).get("rc", "-"))
        send = str(result.get("send_worker", result.get("send_inproc", {})).get("rc", "-"))
        receive = str(result.get("receive_raw", {}).get("rc", "-"))
        detail = problems + result.get("leaks", [])[:4] + result.get("misses", [])[:4]
        print(f"{name:<60} {fmt:<8} {inspect:<8} {send:<9} {receive:<9} {' '.join(detail)}")
    sent = sum(1 for r in results if r.get("send_inproc", {}).get("rc") == 0)
    print(
        f"\n{len(results)} files, {len(formats)} formats as inspect names them, "
        f"{sent} cleaned for sending, {failing} with problems: "
        + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none")
    )
    print("formats: " + ", ".join(f"{k} {n}" for k, n in formats.most_common()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
