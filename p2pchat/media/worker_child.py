"""The image worker's child side: confine itself, read one photo, answer once, exit.

(Twice for a ``check_after`` request, `p2pchat send`'s: the clean copy first, then,
at a lower priority, what the picture shows.)

Runs in the fresh interpreter that ``worker.WORKER_ARGV`` starts, with the side
it works for as its last argument. What the sanitiser needs (Pillow with its
common plugins, the colour engine, HEIF when sending) is imported *before*
``sandbox.confine``; afterwards the child may only read code (a rarer format's
plugin) and writes nothing. Not importing all forty plugins up front makes every
worker start about 15 ms sooner: the receiver's spare while it pairs, the
sender's worker while it cleans the photo. A sending *spare* (started with "check")
also loads the picture check (``content_preload``) before confining itself, then
says it is ready. The resource limits are set once the request is read, so a
prewarmed child's start-up does not count against the photo's CPU time.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import replace
from typing import Any

from p2pchat.core.errors import ImageRejected
from p2pchat.media.policy import ContentFixes
from p2pchat.media.worker_protocol import (
    CHECK_NICENESS,
    CHECKED,
    ERROR,
    LENGTH,
    OK,
    READY,
    frame,
    parse_frame,
)

_OUTPUT_CHECK = "refusing to send: "


def prepare(side: str = "send", loaded: dict[str, object] | None = None) -> int:
    """Import what the sanitiser needs on ``side``, then confine this process; the Landlock
    ABI used. With ``loaded`` (a sending spare) the picture check's stack is loaded too,
    and what it holds is written into ``loaded``."""
    from p2pchat.media import sandbox

    _load_formats(side)
    if loaded is not None:
        from p2pchat.media import content_preload

        try:
            loaded.update(content_preload.load())
        except (ImportError, RuntimeError) as error:  # the scan meets it again, and words it
            loaded.update({"modules": [], "error": type(error).__name__})
    return sandbox.confine(_code_roots())


def _load_formats(side: str) -> None:
    """Pillow's common plugins (JPEG, MPO, PNG, GIF, BMP), and HEIF to send: not all forty
    (20 ms of every worker's start). A rarer format's plugin loads when a file needs
    one: reading code is what the sandbox still allows."""
    from PIL import Image, MpoImagePlugin

    Image.preinit()
    assert MpoImagePlugin  # a JPEG with a second frame opens as MPO
    if side != "receive":  # the wire carries JPEG or PNG only
        from p2pchat.media.containers import register_heif

        register_heif()


def main() -> int:
    """One request on stdin, one answer on stdout (two for ``check_after``: the clean
    copy, then what the picture shows)."""
    from p2pchat.media.sanitize import SanitizePolicy, sanitize_image, sanitize_keeping_pixels

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    options = sys.argv[2:]  # after the code root: the side, then "check" for a warm spare
    prepared_for = "receive" if "receive" in options else "send"
    check = "check" in options and prepared_for == "send"
    loaded: dict[str, object] | None = {} if check else None
    try:
        prepare(prepared_for, loaded)
    except OSError as error:
        # A sandbox that was promised by the kernel and failed: refuse rather than run bare.
        _answer(stdout, frame(ERROR, {"kind": "start", "detail": f"sandbox: {error.strerror}"}))
        return 0
    if check:  # a spare: the parent learns it is ready, and what it holds, before any photo
        _answer(stdout, frame(READY, loaded or {}))
    check_after = False
    try:
        (length,) = LENGTH.unpack(_read_exactly(stdin, 4))
        request = _read_exactly(stdin, length)
        _status, header, data = parse_frame(request)
        del request
        _limit_resources(int(header["memory_limit"]), int(header["cpu_seconds"]))
        policy = SanitizePolicy(
            max_long_edge=header["max_long_edge"],
            side="receive" if header["side"] == "receive" else "send",
            max_input_bytes=int(header["max_input_bytes"]),
            max_pixels=int(header["max_pixels"]),
            scan_content=header.get("scan_content") is True,
            fixes=ContentFixes.from_dict(header.get("fixes") or {}),
        )
        if policy.side != prepared_for:  # not the side it was started for: HEIF too
            _load_formats(policy.side)
        # The check only warns here (nothing to blur): the clean copy goes back first.
        check_after = (
            header.get("check_after") is True and policy.scan_content and not policy.fixes.active
        )
        if check_after:
            result, pixels = sanitize_keeping_pixels(data, replace(policy, scan_content=False))
        else:
            result = sanitize_image(data, policy)
        answer = frame(
            OK,
            {
                "mime": result.mime,
                "width": result.width,
                "height": result.height,
                # No summary: the parent words it in its reader's language. Wording it
                # here parsed a whole catalogue: 8 ms of every photo's answer.
                "report": result.report.to_dict(summary=False),
            },
            result.data,
        )
    except ImageRejected as error:
        answer = frame(ERROR, _refusal_of(error))
    except MemoryError:
        answer = frame(ERROR, {"kind": "memory"})
    except Exception as error:  # a bug or a decoder we did not anticipate
        answer = frame(ERROR, {"kind": "invalid", "detail": type(error).__name__})
    _answer(stdout, answer)
    if check_after and answer[:1] == OK:
        del data, result
        _answer(stdout, _checked(pixels, policy))
    return 0


def _checked(pixels: Any, policy: Any) -> bytes:
    """The second answer of a ``check_after`` request: what the picture shows.

    At a lower priority: the clean copy is already on its way, and the check must not
    slow down the processes that carry it (on two cores, the sender's and the
    receiver's own work while they pair). It warns only, so a failure is a note.
    """
    from p2pchat.media.sanitize import check_pixels

    _lower_priority()
    try:
        report = check_pixels(pixels, policy)
    except MemoryError:
        return frame(ERROR, {"kind": "memory"})
    except Exception as error:  # the check warns; a bug here must not look like a photo's fault
        return frame(ERROR, {"kind": "invalid", "detail": type(error).__name__})
    return frame(CHECKED, {"report": report.to_dict(summary=False)})


def _lower_priority() -> None:
    """Give way to every process at the normal priority (nice 10: about a tenth of a
    core against one of them). Not ``SCHED_IDLE``: behind a busy machine's background
    work that would starve the check for minutes, and `send` waits to tell it."""
    with contextlib.suppress(OSError):
        os.nice(CHECK_NICENESS)


def _refusal_of(error: ImageRejected) -> dict[str, str]:
    """The kind of a sanitiser refusal; its text stays as the technical detail."""
    # The sanitiser raises `from None`: the cause is still in __context__.
    if isinstance(error.__context__, MemoryError) or "more memory" in str(error):
        return {"kind": "memory"}
    message = str(error)
    if message.startswith(_OUTPUT_CHECK):
        return {"kind": "output", "detail": message.removeprefix(_OUTPUT_CHECK)}
    return {"kind": "invalid", "detail": message}


def _code_roots() -> list[str]:
    """Where code may be read from: the Python installation and p2pchat's own folder."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots.update(path for path in sys.path if path)
    return sorted(roots)


def _answer(stdout: Any, answer: bytes) -> None:
    stdout.write(LENGTH.pack(len(answer)) + answer)
    stdout.flush()


def _limit_resources(memory_limit: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: only the timeout protects us
        return
    # CPU time counts from the start of the process: add what start-up already used.
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds += math.ceil(used.ru_utime + used.ru_stime)
    for limit, soft, hard in (
        (resource.RLIMIT_AS, memory_limit, memory_limit),
        (resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1),
        # No core file: it would hold the (possibly view-once) image.
        (resource.RLIMIT_CORE, 0, 0),
    ):
        try:
            _current_soft, current_hard = resource.getrlimit(limit)
            if current_hard != resource.RLIM_INFINITY:
                hard = min(hard, current_hard)
                soft = min(soft, hard)
            resource.setrlimit(limit, (soft, hard))
        except (ValueError, OSError):
            continue


def _read_exactly(stream: Any, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = stream.read(count - len(chunks))
        if not chunk:
            raise EOFError("request truncated")
        chunks += chunk
    return bytes(chunks)
