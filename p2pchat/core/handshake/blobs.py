"""What copy-paste handshakes put on the clipboard: blobs, compact SDPs, one-shot boxes.

No mailbox at all (DESIGN.md section 3 point 8): the two people pass short text
blobs over any channel (a chat they already have, a QR code...). Both copy-paste
handshakes, the first contact (``manual``) and the meeting with a pinned
contact (``manual_pinned``), use this module's format:

Blob text: ``p2pc1`` + kind digit + ``.`` + base64url(msgpack list of byte
strings + 4-byte SHA-256 check). SDPs travel compacted (``compact_sdp``): ICE
credentials, the sha-256 DTLS fingerprint, the setup role and the candidates
(address, port, type; the priority only when it is not the standard one for the
type; never the private "related address" of a server-reflexive candidate),
which is all aiortc needs to rebuild one (``expand_sdp``). Everything is size-
and type-checked; any defect is a ``RemoteProtocolError`` (or ``InvalidBlob``).
Sealed parts are one SecretBox under a key that seals exactly one message, so
the nonce is fixed and not sent (``seal_once`` / ``open_once``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
from typing import Final

import msgpack
import nacl.exceptions
import nacl.secret

from p2pchat.core.errors import DecryptError, LocalProtocolError, RemoteProtocolError

BLOB_PREFIX: Final = "p2pc1"
MAX_BLOB_CHARS: Final = 8192
MAX_COMPACT_SDP_CHARS: Final = 2048
MAX_CANDIDATES: Final = 16
CHECK_SIZE: Final = 4
MAX_SEALED_PLAINTEXT: Final = 8192
MAX_SEALED: Final = MAX_SEALED_PLAINTEXT + nacl.secret.SecretBox.MACBYTES
_ONCE_NONCE: Final = bytes(nacl.secret.SecretBox.NONCE_SIZE)
INVITER_SIDE: Final = "0"  # fixed side ids: no mailbox hands them out
JOINER_SIDE: Final = "1"

KIND_PAKE_1: Final = 1
KIND_PAKE_2: Final = 2
KIND_PAKE_3: Final = 3
KIND_PINNED_1: Final = 4
KIND_PINNED_2: Final = 5
_FIELDS: Final = {
    KIND_PAKE_1: 1,
    KIND_PAKE_2: 2,
    KIND_PAKE_3: 1,
    KIND_PINNED_1: 2,
    KIND_PINNED_2: 2,
}
_SETUPS: Final = ("actpass", "active", "passive")
_TYPES: Final = {"host": "h", "srflx": "s", "relay": "r", "prflx": "p"}
# RFC 8445 type preferences, as aioice gives them: a candidate whose priority is the
# standard one for its type travels without it.
_TYPE_PREFERENCE: Final = {"host": 126, "prflx": 110, "srflx": 100, "relay": 0}
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9+/=._-]{1,256}")
_CANDIDATE_RE: Final = re.compile(
    r"a=candidate:\S+ 1 udp (\d+) (\S+) (\d+) typ (host|srflx|relay|prflx)"
    r"(?: raddr (\S+) rport (\d+))?"
)


class InvalidBlob(RemoteProtocolError):
    """The pasted text is not a p2pchat blob of the expected kind (or was damaged)."""

    reason = "invalid_blob"


# --------------------------------------------------------------------------- blobs


def encode_blob(kind: int, fields: list[bytes]) -> str:
    if _FIELDS.get(kind) != len(fields):
        raise LocalProtocolError("wrong blob kind or field count")
    payload = msgpack.packb(fields, use_bin_type=True)
    header = f"{BLOB_PREFIX}{kind}.".encode("ascii")
    check = hashlib.sha256(header + payload).digest()[:CHECK_SIZE]
    return header.decode() + base64.urlsafe_b64encode(payload + check).decode().rstrip("=")


def decode_blob(text: str, kind: int) -> list[bytes]:
    """The fields of a blob of ``kind``; ``InvalidBlob`` with what is wrong otherwise."""
    if not isinstance(text, str):
        raise InvalidBlob("a blob is text")
    blob = "".join(text.split())  # pasting often adds line breaks or spaces
    if len(blob) > MAX_BLOB_CHARS:
        raise InvalidBlob(f"the pasted text is longer than {MAX_BLOB_CHARS} characters")
    if not blob.startswith(BLOB_PREFIX):
        raise InvalidBlob(
            "this is not a p2pchat blob (it should start with "
            f"{BLOB_PREFIX!r}), or it comes from an incompatible p2pchat version"
        )
    header, dot, body = blob.partition(".")
    if not dot or header != f"{BLOB_PREFIX}{kind}":
        raise InvalidBlob(
            "this blob is not the one expected at this step (check which message you pasted)"
        )
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidBlob("the blob is damaged (not base64url): copy it again") from exc
    payload, check = raw[:-CHECK_SIZE], raw[-CHECK_SIZE:]
    expected = hashlib.sha256((header + ".").encode("ascii") + payload).digest()[:CHECK_SIZE]
    if len(raw) <= CHECK_SIZE or not hmac.compare_digest(check, expected):
        raise InvalidBlob("the blob is incomplete or damaged (its check failed): copy it again")

    def refuse_ext(code: int, data: bytes) -> object:
        raise InvalidBlob("the blob contains a msgpack extension type")

    try:
        fields = msgpack.unpackb(payload, raw=False, ext_hook=refuse_ext)
    except InvalidBlob:
        raise
    except (ValueError, msgpack.UnpackException) as exc:
        raise InvalidBlob("the blob's contents are malformed") from exc
    if (
        not isinstance(fields, list)
        or len(fields) != _FIELDS[kind]
        or not all(isinstance(field, bytes) for field in fields)
    ):
        raise InvalidBlob("the blob's contents are malformed")
    return fields


# --------------------------------------------------------------------- compact SDP


def compact_sdp(sdp: str) -> str:
    """``ufrag pwd setup fingerprint cand;cand``: what aiortc needs from a data-channel SDP."""
    values: dict[str, str] = {}
    candidates: list[str] = []
    for line in sdp.splitlines():
        for key in ("a=ice-ufrag:", "a=ice-pwd:", "a=setup:", "a=fingerprint:sha-256 "):
            if line.startswith(key):
                values.setdefault(key, line[len(key) :].strip())
        match = _CANDIDATE_RE.match(line)
        if match:
            priority, ip, port, typ = match.groups()[:4]
            item = f"{ip},{port},{_TYPES[typ]}"
            if int(priority) != _standard_priority(typ):
                item += f",{priority}"
            candidates.append(item)
    try:
        fingerprint = bytes.fromhex(values["a=fingerprint:sha-256 "].replace(":", ""))
        setup = _SETUPS.index(values["a=setup:"])
        ufrag, pwd = values["a=ice-ufrag:"], values["a=ice-pwd:"]
    except (KeyError, ValueError) as exc:
        raise LocalProtocolError("the local SDP lacks ICE credentials or a fingerprint") from exc
    if not candidates:
        raise LocalProtocolError("the local SDP has no candidates")
    fp = base64.urlsafe_b64encode(fingerprint).decode().rstrip("=")
    return f"{ufrag} {pwd} {setup} {fp} {';'.join(candidates[:MAX_CANDIDATES])}"


def expand_sdp(compact: str) -> str:
    """A full SDP rebuilt from ``compact_sdp`` output; ``RemoteProtocolError`` if malformed."""
    if not isinstance(compact, str) or len(compact) > MAX_COMPACT_SDP_CHARS:
        raise RemoteProtocolError("the peer's connection details are too long")
    parts = compact.split(" ")
    if len(parts) != 5:
        raise RemoteProtocolError("the peer's connection details are malformed")
    ufrag, pwd, setup_text, fp_text, candidate_text = parts
    if not _TOKEN_RE.fullmatch(ufrag) or not _TOKEN_RE.fullmatch(pwd):
        raise RemoteProtocolError("the peer's ICE credentials are malformed")
    if setup_text not in ("0", "1", "2"):
        raise RemoteProtocolError("the peer's DTLS role is malformed")
    try:
        fingerprint = base64.urlsafe_b64decode(fp_text + "=" * (-len(fp_text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError("the peer's DTLS fingerprint is malformed") from exc
    if len(fingerprint) != 32:
        raise RemoteProtocolError("the peer's DTLS fingerprint has the wrong size")
    items = candidate_text.split(";")
    if not 0 < len(items) <= MAX_CANDIDATES:
        raise RemoteProtocolError("the peer sent no usable or too many candidates")
    lines = []
    first: tuple[str, int] | None = None
    types = {letter: name for name, letter in _TYPES.items()}
    for index, item in enumerate(items):
        fields = item.split(",")
        if len(fields) not in (3, 4) or fields[2] not in types:
            raise RemoteProtocolError("a candidate of the peer is malformed")
        typ = types[fields[2]]
        ip, port = _ip(fields[0]), _number(fields[1], 65535)
        priority = _number(fields[3], 2**32) if len(fields) == 4 else _standard_priority(typ)
        lines.append(f"a=candidate:{index} 1 udp {priority} {ip} {port} typ {typ}")
        first = first or (ip, port)
    assert first is not None
    family = "IP6" if ":" in first[0] else "IP4"
    return "\r\n".join(
        [
            "v=0",
            "o=- 0 0 IN IP4 0.0.0.0",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0",
            "a=msid-semantic:WMS *",
            f"m=application {first[1]} UDP/DTLS/SCTP webrtc-datachannel",
            f"c=IN {family} {first[0]}",
            "a=mid:0",
            "a=sctp-port:5000",
            "a=max-message-size:262144",
            *lines,
            "a=end-of-candidates",
            f"a=ice-ufrag:{ufrag}",
            f"a=ice-pwd:{pwd}",
            "a=fingerprint:sha-256 " + ":".join(f"{byte:02X}" for byte in fingerprint),
            f"a=setup:{_SETUPS[int(setup_text)]}",
            "",
        ]
    )


def _standard_priority(typ: str) -> int:
    """RFC 8445's recommended priority for component 1 (what aioice gives)."""
    return (1 << 24) * _TYPE_PREFERENCE[typ] + (1 << 8) * 65535 + 255


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise RemoteProtocolError("a candidate address of the peer is malformed") from exc


def _number(text: str, high: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 0 <= int(text) <= high:
        raise RemoteProtocolError("a candidate number of the peer is malformed")
    return int(text)


# ------------------------------------------------------------------ one-shot boxes


def seal_once(key: bytes, plaintext: bytes) -> bytes:
    """``plaintext`` in a SecretBox under a key that seals nothing else (so: fixed nonce)."""
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext, _ONCE_NONCE).ciphertext)


def open_once(key: bytes, sealed: bytes) -> bytes:
    """The plaintext of ``seal_once``; ``DecryptError`` if it does not open with ``key``."""
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(sealed, _ONCE_NONCE))
    except nacl.exceptions.CryptoError as exc:
        raise DecryptError("a sealed part of the blob does not open") from exc
