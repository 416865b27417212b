"""The image worker's wire format, and its refusals in the words of the side that refuses.

A request is ``b"R" + length + JSON header + image bytes``; an answer is
``b"O"`` (header: mime, size, report) or ``b"E"`` (header: a refusal *kind* and
a technical detail) with the clean bytes after it. A warm sending spare first
says ``b"W"`` (header: what it has loaded) as soon as it is ready, before any
request. A request with ``check_after`` gets a second answer after the clean copy:
``b"C"`` (header: a report of what the picture shows) or ``b"E"``. The child never writes a
sentence for a person: the parent turns the kind into one, in the user's
language and from the point of view of the sender ("this photo cannot be
sent") or the receiver ("this photo was refused").
"""

from __future__ import annotations

import json
import signal
import struct
from typing import Any

from p2pchat.core.errors import ImageRejected
from p2pchat.i18n import t
from p2pchat.media.policy import CONTENT_CATEGORIES, MAX_SIDE, SanitizedImage, SanitizePolicy
from p2pchat.media.report import PrivacyReport

LENGTH = struct.Struct(">I")
OK, ERROR = b"O", b"E"
# A warm spare's first frame, before any request: what it has loaded (``worker.ImageWorker.ready``).
READY = b"W"
# The picture check's answer, after the clean copy (a ``check_after`` request).
CHECKED = b"C"
# How much the child lowers its priority for that check (nice(2) steps): it warns only,
# and must not slow down the processes that carry the photo meanwhile.
CHECK_NICENESS = 10
MAX_HEADER = 1024 * 1024
# A ready frame is a few names: anything longer is not an honest one.
MAX_READY = 4096
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
KINDS = frozenset(
    {"memory", "cpu", "time", "crash", "busy", "invalid", "output", "start", "broken", "closed"}
)


def refusal(side: str, kind: str, **fields: object) -> ImageRejected:
    """An ``ImageRejected`` saying why, as the sending or the receiving side would say it.

    ``side`` "clean" is the wording of `p2pchat sanitize`, which neither sends nor receives;
    "check" says why a picture check that follows its clean copy did not run (the photo
    itself was fine: ``decode_check``).
    """
    side = side if side in ("receive", "clean", "check") else "send"
    return ImageRejected(t(f"image_refusal.{side}.{kind}", **fields))


def request_frame(
    data: bytes,
    policy: SanitizePolicy,
    memory_limit: int,
    cpu_seconds: int,
    side: str = "",
    *,
    check_after: bool = False,
) -> bytes:
    """The request for the child; an oversized input is refused here, never sent.

    ``check_after``: the policy's picture check (``scan_content``, nothing to blur) is
    answered separately, after the clean copy (``decode_check``)."""
    if len(data) > policy.max_input_bytes:
        raise refusal(
            side or policy.side,
            "invalid",
            detail=f"{len(data) / 1_048_576:.1f} MiB, over the "
            f"{policy.max_input_bytes / 1_048_576:.0f} MiB limit",
        )
    return frame(
        b"R",
        {
            "max_long_edge": policy.max_long_edge,
            "side": policy.side,
            "max_input_bytes": policy.max_input_bytes,
            "max_pixels": policy.max_pixels,
            "scan_content": policy.scan_content,
            "fixes": policy.fixes.to_dict(),
            "memory_limit": int(memory_limit),
            "cpu_seconds": int(cpu_seconds),
            "check_after": check_after,
        },
        bytes(data),
    )


def decode_answer(answer: bytes, exitcode: int | None, side: str) -> SanitizedImage:
    """The child's answer as a clean image, or the refusal it stands for."""
    if len(answer) < 4 or LENGTH.unpack(answer[:4])[0] != len(answer) - 4:
        raise _death(exitcode, side)
    try:
        header, body = _expect(answer[4:], OK, side)
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
        raise refusal(side, "broken") from None
    return SanitizedImage(body, mime, width, height, report)


def decode_check(payload: bytes, side: str = "check") -> PrivacyReport:
    """The second answer of a ``check_after`` request (without its length): the picture
    check's findings and notes, or the refusal it stands for. Only the picture check's
    own categories are taken: the metadata report came with the clean copy."""
    try:
        header, _body = _expect(payload, CHECKED, side)
        report = PrivacyReport.from_dict(header["report"])
    except ImageRejected:
        raise
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        raise refusal(side, "broken") from None
    report.findings = [f for f in report.findings if f.category in CONTENT_CATEGORIES]
    report.notes = [str(note)[:300] for note in report.notes[:8]]
    return report


def _expect(payload: bytes, status: bytes, side: str) -> tuple[dict[str, Any], bytes]:
    """A frame of ``status``: its header and body; an error frame raises its refusal, any
    other status ``ValueError`` (a broken answer, for the caller to refuse)."""
    found, header, body = parse_frame(payload)
    if found == ERROR:
        kind = str(header.get("kind", "invalid"))
        detail = str(header.get("detail", ""))[:300]
        raise refusal(side, kind if kind in KINDS else "invalid", detail=detail)
    if found != status:
        raise ValueError("unknown status")
    return header, body


def _death(exitcode: int | None, side: str) -> ImageRejected:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGXCPU":
            return refusal(side, "cpu")
        return refusal(side, "crash", signal=name)
    return refusal(side, "broken")


def frame(status: bytes, header: dict[str, Any], body: bytes = b"") -> bytes:
    encoded = json.dumps(header, ensure_ascii=False, default=str).encode("utf-8")
    return status + LENGTH.pack(len(encoded)) + encoded + body


def parse_frame(payload: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    status = payload[:1]
    (header_len,) = LENGTH.unpack(payload[1:5])
    if header_len > MAX_HEADER:
        raise ValueError("header too large")
    header = json.loads(payload[5 : 5 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return status, header, payload[5 + header_len :]
