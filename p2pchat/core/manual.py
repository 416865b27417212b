"""Serverless pairing by copy-paste: the blob format, compact SDPs, the first-contact flow.

No mailbox at all (DESIGN.md section 3 point 8). The two people pass short text
blobs to each other over any channel (a chat they already have, a QR code...):

First contact, under a code spoken aloud (``ManualPairing``; the joiner offers):
  1. inviter -> joiner: the inviter's PAKE message;
  2. joiner -> inviter: the joiner's PAKE message + sealed (version, offer);
  3. inviter -> joiner: sealed (version, answer).
A sealed part that does not open means a wrong code (``WrongCode``): one guess
per exchange, never a short authentication string after unauthenticated pastes.
Then the bind over the data channel, as in ``pairing.py``.

A pinned contact (``core.reconnect.Reconnect`` with fixed sides ``0``/``1``):
  1. inviter -> joiner: signed hello + sealed offer; 2. joiner -> inviter:
  signed hello + sealed answer.

Blob text: ``p2pc1`` + kind digit + ``.`` + base64url(msgpack list of byte
strings + 4-byte SHA-256 check). SDPs travel compacted (``compact_sdp``): ICE
credentials, the sha-256 DTLS fingerprint, the setup role and the candidates
(address, port, type; the priority only when it is not the standard one for the
type; never the private "related address" of a server-reflexive candidate),
which is all aiortc needs to rebuild one (``expand_sdp``). The first-contact
``version`` is a positional msgpack list, not the mailbox pairing's map: key
names would be a fifth of the blob. Everything is size- and type-checked; any
defect is a ``RemoteProtocolError`` (or ``InvalidBlob``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
from typing import Final

import msgpack
import nacl.exceptions
import nacl.secret
import nacl.signing
import spake2

from p2pchat.core import crypto, handshake
from p2pchat.core.codes import parse as parse_code
from p2pchat.core.errors import (
    LocalProtocolError,
    RemoteProtocolError,
    WrongCode,
)
from p2pchat.core.handshake import new_ephemeral, session_keys, verify_bind
from p2pchat.core.keys import Capabilities, Role, SessionKeys
from p2pchat.core.pairing import (
    APPID,
    PAKE_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    PeerVersion,
    decode_version,
    encode_capabilities,
    transcript_hash,
)

BLOB_PREFIX: Final = "p2pc1"
MAX_BLOB_CHARS: Final = 8192
MAX_COMPACT_SDP_CHARS: Final = 2048
MAX_CANDIDATES: Final = 16
CHECK_SIZE: Final = 4
MAX_SEALED_PLAINTEXT: Final = 8192
_ONCE_NONCE: Final = bytes(nacl.secret.SecretBox.NONCE_SIZE)
INVITER_SIDE: Final = "0"  # fixed side ids: no mailbox hands them out
JOINER_SIDE: Final = "1"
MANUAL_NAMEPLATE: Final = "0"  # a manual code has no nameplate; "0" keeps the code format

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
_BIND_LABEL: Final = b"p2pchat/v1 manual bind"
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


# ------------------------------------------------------------ first contact (PAKE)


def pack_version(identity: bytes, ephemeral: bytes, capabilities: Capabilities) -> bytes:
    """Our ``version`` for a copy-paste pairing: ``[v, id, eph, [view_once, max image
    bytes, max text chars, label]]``, the mailbox pairing's fields without their names."""
    caps = encode_capabilities(capabilities)
    return bytes(
        msgpack.packb(
            [
                PROTOCOL_VERSION,
                identity,
                ephemeral,
                [caps["view_once"], caps["max_image_bytes"], caps["max_text_chars"], caps["label"]],
            ],
            use_bin_type=True,
        )
    )


def unpack_version(data: bytes) -> PeerVersion:
    """The peer's ``pack_version``, checked exactly as the mailbox pairing checks its map."""

    def refuse_ext(code: int, ext: bytes) -> object:
        raise RemoteProtocolError("the peer's version message holds a msgpack extension")

    try:
        fields = msgpack.unpackb(data, raw=False, ext_hook=refuse_ext, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise RemoteProtocolError("the peer's version message is malformed") from exc
    if not (
        isinstance(fields, list)
        and len(fields) == 4
        and isinstance(fields[3], list)
        and len(fields[3]) == 4
    ):
        raise RemoteProtocolError("the peer's version message is malformed")
    protocol, identity, ephemeral, (view_once, max_image, max_text, label) = fields
    caps = {
        "view_once": view_once,
        "max_image_bytes": max_image,
        "max_text_chars": max_text,
        "label": label,
    }
    mapped = msgpack.packb({"v": protocol, "id": identity, "eph": ephemeral, "caps": caps})
    return decode_version(bytes(mapped))


def manual_code(random: crypto.RandomSource = os.urandom) -> str:
    """A fresh code to read aloud for a copy-paste pairing."""
    from p2pchat.core.codes import generate

    return str(generate(MANUAL_NAMEPLATE, random))


class ManualPairing:
    """One side of a three-blob first contact. The joiner offers; single use."""

    def __init__(
        self,
        code: str,
        inviter: bool,
        identity: nacl.signing.SigningKey,
        capabilities: Capabilities,
        *,
        appid: str = APPID,
        random: crypto.RandomSource = os.urandom,
    ) -> None:
        password = str(parse_code(code, manual=True)).encode("ascii")
        self.side = INVITER_SIDE if inviter else JOINER_SIDE
        self._peer_side = JOINER_SIDE if inviter else INVITER_SIDE
        self.role: Role = "answerer" if inviter else "offerer"
        self.appid = appid
        self._identity = identity
        self._random = random
        self._spake = spake2.SPAKE2_Symmetric(
            password, idSymmetric=appid.encode("utf-8"), entropy_f=random
        )
        self._ephemeral = new_ephemeral(random)
        self._own_pake = bytes(self._spake.start())
        self._own_version = pack_version(
            bytes(identity.verify_key), crypto.x25519_public(self._ephemeral), capabilities
        )
        self._peer_pake = b""
        self._peer_version = b""
        self._key: bytes | None = None
        self._shared = b""
        self._offer = b""
        self._answer = b""
        self.peer_identity: bytes | None = None
        self.peer_capabilities: Capabilities | None = None
        self.safety_number: str | None = None
        self.remote_sdp: str | None = None
        self._done = False

    # inviter: blob 1, then take blob 2, then blob 3
    def first_blob(self) -> str:
        self._require(inviter=True, step=not self._peer_pake)
        return encode_blob(KIND_PAKE_1, [self._own_pake])

    def receive_second(self, blob: str) -> str:
        """The joiner's offer SDP (full form), once its sealed part opened."""
        self._require(inviter=True, step=not self._peer_pake)
        pake, sealed = decode_blob(blob, KIND_PAKE_2)
        self._finish_pake(pake)
        self._open_peer(sealed, "offer")
        assert self.remote_sdp is not None
        return self.remote_sdp

    def third_blob(self, answer_sdp: str) -> str:
        self._require(inviter=True, step=bool(self._offer) and not self._answer)
        self._answer = compact_sdp(answer_sdp).encode("ascii")
        return encode_blob(KIND_PAKE_3, [self._seal_own("answer", self._answer)])

    # joiner: take blob 1 with the offer ready, then take blob 3
    def second_blob(self, first: str, offer_sdp: str) -> str:
        self._require(inviter=False, step=not self._peer_pake)
        (pake,) = decode_blob(first, KIND_PAKE_1)
        self._finish_pake(pake)
        self._offer = compact_sdp(offer_sdp).encode("ascii")
        return encode_blob(KIND_PAKE_2, [self._own_pake, self._seal_own("offer", self._offer)])

    def receive_third(self, blob: str) -> str:
        """The inviter's answer SDP, once its sealed part opened (else ``WrongCode``)."""
        self._require(inviter=False, step=bool(self._offer) and not self._answer)
        (sealed,) = decode_blob(blob, KIND_PAKE_3)
        self._open_peer(sealed, "answer")
        assert self.remote_sdp is not None
        return self.remote_sdp

    # --- internals ----------------------------------------------------------------

    def _require(self, *, inviter: bool, step: bool) -> None:
        if self._done:
            raise LocalProtocolError("this copy-paste pairing has failed or finished")
        if (self.side == INVITER_SIDE) != inviter or not step:
            raise LocalProtocolError("that step is not due now in this copy-paste pairing")

    def _finish_pake(self, pake: bytes) -> None:
        if len(pake) != PAKE_MESSAGE_SIZE or pake == self._own_pake:
            raise InvalidBlob("the PAKE message in the blob is malformed (or our own)")
        try:
            self._key = bytes(self._spake.finish(pake))
        except Exception as exc:  # spake2 raises its own errors and ValueError
            raise InvalidBlob("the PAKE message in the blob is not valid") from exc
        self._peer_pake = pake

    def _seal_own(self, phase: str, sdp: bytes) -> bytes:
        assert self._key is not None
        # Not compressed: keys and credentials are random, zlib would only add bytes.
        plaintext = msgpack.packb([self._own_version, sdp], use_bin_type=True)
        # Each phase key (fresh PAKE key, per side and phase) seals exactly one message,
        # so a fixed nonce is safe and saves 24 bytes of every blob.
        box = nacl.secret.SecretBox(crypto.phase_key(self._key, self.side, phase))
        return bytes(box.encrypt(plaintext, _ONCE_NONCE).ciphertext)

    def _open_peer(self, sealed: bytes, phase: str) -> None:
        assert self._key is not None
        box = nacl.secret.SecretBox(crypto.phase_key(self._key, self._peer_side, phase))
        if len(sealed) > MAX_SEALED_PLAINTEXT + nacl.secret.SecretBox.MACBYTES:
            self._done = True
            raise RemoteProtocolError("the peer's sealed details are too long")
        try:
            plaintext = bytes(box.decrypt(sealed, _ONCE_NONCE))
        except nacl.exceptions.CryptoError as exc:
            self._done = True
            raise WrongCode() from exc
        try:
            version, sdp = msgpack.unpackb(plaintext, raw=False)
            if not isinstance(version, bytes) or not isinstance(sdp, bytes):
                raise ValueError("wrong field types")
            text = sdp.decode("ascii")
            peer = unpack_version(version)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            self._done = True
            raise RemoteProtocolError("the peer's sealed details are malformed") from exc
        except RemoteProtocolError:
            self._done = True
            raise
        self._shared = crypto.x25519(self._ephemeral, peer.ephemeral)
        self._peer_version = version
        self.peer_identity = peer.identity
        self.peer_capabilities = peer.capabilities
        self.safety_number = crypto.safety_number(bytes(self._identity.verify_key), peer.identity)
        self.remote_sdp = expand_sdp(text)
        if phase == "offer":
            self._offer = sdp
        else:
            self._answer = sdp

    def transcript(self) -> bytes:
        if not (self._offer and self._answer and self._peer_version):
            raise LocalProtocolError("the transcript is complete only after all three blobs")
        return transcript_hash(
            (self._own_pake, self._peer_pake),
            (self._own_version, self._peer_version),
            self._offer,
            self._answer,
            self.appid,
        )

    def bind_message(self) -> bytes:
        assert self._key is not None
        return handshake.bind_message(
            self._identity,
            crypto.purpose_key(self._key, "bind"),
            _BIND_LABEL,
            self.transcript(),
            self.side,
        )

    def receive_bind(self, data: bytes) -> SessionKeys:
        if self._done:
            raise LocalProtocolError("this copy-paste pairing has failed or finished")
        try:
            return self._verify_bind(data)
        finally:
            self._done = True

    def _verify_bind(self, data: bytes) -> SessionKeys:
        assert self._key is not None and self.peer_identity is not None
        assert self.safety_number is not None and self.peer_capabilities is not None
        transcript = self.transcript()
        verify_bind(
            data,
            peer_identity=self.peer_identity,
            mac_key=crypto.purpose_key(self._key, "bind"),
            label=_BIND_LABEL,
            transcript=transcript,
            peer_side=self._peer_side,
            peer="the peer",
            attempt="pairing",
        )
        return session_keys(
            role=self.role,
            shared_secret=self._shared,
            stream_ikm=self._key,
            transcript=transcript,
            safety_number=self.safety_number,
            peer_identity=self.peer_identity,
            peer_capabilities=self.peer_capabilities,
            reconnect_psk=crypto.purpose_key(self._key, "reconnect-psk"),
        )


__all__ = [
    "InvalidBlob",
    "ManualPairing",
    "compact_sdp",
    "decode_blob",
    "encode_blob",
    "expand_sdp",
    "manual_code",
    "pack_version",
    "unpack_version",
]
