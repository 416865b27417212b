"""Run the sanitiser in a throw-away child process with memory and CPU limits.

A hostile image that crashes a decoder, eats memory or spins the CPU takes down
only the child; the caller gets an ``ImageRejected`` and carries on. Image bytes
go over pipes only, never through a file: view-once photos pass through here.

The child is ``python -I -m p2pchat.media.worker``: a fresh interpreter (not a
fork of a process holding keys, and not a multiprocessing child that re-imports
the caller's main script). It reads a length-prefixed request on stdin and writes
a length-prefixed answer on stdout: a JSON header plus the image bytes, never a
pickle, so even a compromised child cannot make the parent run code.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
from typing import Any

from p2pchat.core.errors import ImageRejected
from p2pchat.media.content_fix import ContentFixes
from p2pchat.media.inspect import MAX_SIDE, PrivacyReport
from p2pchat.media.sanitize import SanitizedImage, SanitizePolicy

DEFAULT_TIMEOUT = 20.0
DEFAULT_MEMORY_LIMIT = 1024 * 1024 * 1024
_MAX_HEADER = 1024 * 1024
_OK, _ERROR = b"O", b"E"
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
_LENGTH = struct.Struct(">I")


def sanitize_isolated(
    data: bytes,
    policy: SanitizePolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    cpu_seconds: int | None = None,
) -> SanitizedImage:
    """``sanitize_image`` in a child process; any crash, kill or timeout -> ImageRejected.

    The child gets ``memory_limit`` bytes of address space and ``cpu_seconds`` of CPU
    (default: the timeout plus one second).
    """
    policy = policy or SanitizePolicy()
    if len(data) > policy.max_input_bytes:
        raise ImageRejected(
            f"the image is {len(data) / 1_048_576:.1f} MiB, over the "
            f"{policy.max_input_bytes / 1_048_576:.0f} MiB limit"
        )
    request = _frame(
        b"R",
        {
            "max_long_edge": policy.max_long_edge,
            "side": policy.side,
            "max_input_bytes": policy.max_input_bytes,
            "max_pixels": policy.max_pixels,
            "scan_content": policy.scan_content,
            "fixes": policy.fixes.to_dict(),
            "memory_limit": int(memory_limit),
            "cpu_seconds": cpu_seconds or max(1, int(timeout) + 1),
        },
        bytes(data),
    )
    # Fewer malloc arenas keep the child's address space small under RLIMIT_AS.
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        child = subprocess.Popen(
            [sys.executable, "-I", "-m", "p2pchat.media.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
    except OSError as error:
        raise ImageRejected(f"could not start the image worker ({error.strerror})") from None
    try:
        answer, _ = child.communicate(_LENGTH.pack(len(request)) + request, timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ImageRejected(
            f"the image took longer than {timeout:g} s to process and was abandoned"
        ) from None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if len(answer) < 4 or _LENGTH.unpack(answer[:4])[0] != len(answer) - 4:
        raise ImageRejected(_death_message(child.returncode))
    return _decode_result(answer[4:])


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGXCPU":
            return "the image used too much CPU time and its decoder was stopped"
        if name in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
            return (
                f"the image decoder crashed ({name}): the file is corrupt or hostile, "
                "so it was refused"
            )
        return f"the image decoder was stopped ({name}); the image was refused"
    return "the image decoder stopped without an answer; the image was refused"


def _decode_result(payload: bytes) -> SanitizedImage:
    try:
        status, header, body = _parse_frame(payload)
        if status == _ERROR:
            raise ImageRejected(str(header.get("message", "the image was refused"))[:300])
        if status != _OK:
            raise ValueError("unknown status")
        mime = str(header["mime"])
        width, height = int(header["width"]), int(header["height"])
        if mime not in _MAGIC or not body.startswith(_MAGIC[mime]):
            raise ValueError("unexpected output format")
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise ValueError("implausible size")
        report = PrivacyReport.from_dict(header["report"])
    except ImageRejected:
        raise
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        raise ImageRejected("the image worker gave a malformed answer; image refused") from None
    return SanitizedImage(body, mime, width, height, report)


def _frame(status: bytes, header: dict[str, Any], body: bytes = b"") -> bytes:
    encoded = json.dumps(header, ensure_ascii=False, default=str).encode("utf-8")
    return status + _LENGTH.pack(len(encoded)) + encoded + body


def _parse_frame(payload: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    status = payload[:1]
    (header_len,) = _LENGTH.unpack(payload[1:5])
    if header_len > _MAX_HEADER:
        raise ValueError("header too large")
    header = json.loads(payload[5 : 5 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return status, header, payload[5 + header_len :]


def _limit_resources(memory_limit: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: only the timeout protects us
        return
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


def _child_main() -> int:
    """The child side: one request on stdin, one answer on stdout."""
    from p2pchat.media.sanitize import sanitize_image

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        (length,) = _LENGTH.unpack(_read_exactly(stdin, 4))
        request = _read_exactly(stdin, length)
        _status, header, data = _parse_frame(request)
        _limit_resources(int(header["memory_limit"]), int(header["cpu_seconds"]))
        policy = SanitizePolicy(
            max_long_edge=header["max_long_edge"],
            side="receive" if header["side"] == "receive" else "send",
            max_input_bytes=int(header["max_input_bytes"]),
            max_pixels=int(header["max_pixels"]),
            scan_content=header.get("scan_content") is True,
            fixes=ContentFixes.from_dict(header.get("fixes") or {}),
        )
        result = sanitize_image(data, policy)
        answer = _frame(
            _OK,
            {
                "mime": result.mime,
                "width": result.width,
                "height": result.height,
                "report": result.report.to_dict(),
            },
            result.data,
        )
    except ImageRejected as error:
        answer = _frame(_ERROR, {"message": str(error)})
    except MemoryError:
        answer = _frame(
            _ERROR,
            {"message": "the image needs more memory to decode than allowed; it was refused"},
        )
    except Exception as error:  # a bug or a decoder we did not anticipate
        answer = _frame(
            _ERROR, {"message": f"the image could not be processed ({type(error).__name__})"}
        )
    stdout.write(_LENGTH.pack(len(answer)) + answer)
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
