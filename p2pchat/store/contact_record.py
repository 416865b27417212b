"""One pinned contact as stored: the ``Contact`` record, its checks, errors and file format.

``contacts.py`` (the ``ContactBook``) reads and writes ``contacts.json`` through
``encode``/``decode`` here; petnames are validated by ``validate_petname``
(length, no control characters, no path separators): they are labels, never paths.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from p2pchat.core.crypto import fingerprint
from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_INPUT_REJECTED, EXIT_PAIRING_FAILED, EXIT_USAGE
from p2pchat.store import contact_secrets

FORMAT_NAME: Final = "p2pchat-contacts"
FORMAT_VERSION: Final = 1
# Written when an entry's secrets are sealed, so that an older p2pchat says "written by a
# newer p2pchat" instead of calling the file corrupt.
SEALED_FORMAT_VERSION: Final = 2
FILE_MODE: Final = 0o600
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
MAX_CONTACTS: Final = 10_000
MAX_PETNAME_CHARS: Final = 64
IDENTITY_KEY_BYTES: Final = 32
PSK_BYTES: Final = 32
SAFETY_NUMBER_DIGITS: Final = 60
_FORBIDDEN_IN_PETNAME: Final = frozenset("/\\")


class ContactError(P2PChatError):
    """A contact operation cannot be done (unknown name, invalid petname, ...)."""

    reason = "contact"

    exit_code = EXIT_USAGE


class ContactNotFound(ContactError):
    """No contact has that petname."""

    reason = "contact_not_found"


class ContactsCorrupt(ContactError):
    """``contacts.json`` does not parse; it was kept as it is and a copy saved aside."""

    reason = "contacts_corrupt"

    exit_code = EXIT_INPUT_REJECTED


class KeyChanged(ContactError):
    """A peer's identity key does not match what is pinned: possibly an attack."""

    reason = "key_changed"

    exit_code = EXIT_PAIRING_FAILED  # it stops a pairing, like a wrong code

    def __init__(
        self, message: str, *, petname: str, pinned_key: bytes, offered_key: bytes
    ) -> None:
        super().__init__(message)
        self.petname = petname
        self.pinned_key = pinned_key
        self.offered_key = offered_key


class KeyAlreadyPinned(KeyChanged):
    """The offered key is already pinned under a different petname."""

    reason = "key_already_pinned"

    def __init__(self, *, petname: str, other_petname: str, key: bytes) -> None:
        super().__init__(
            f"This identity (fingerprint {fingerprint(key)}) is already pinned as "
            f"{other_petname!r}; it was not pinned again as {petname!r}. Rename the "
            f"contact instead: p2pchat contacts rename {other_petname!r} {petname!r}",
            petname=petname,
            pinned_key=key,
            offered_key=key,
        )
        self.other_petname = other_petname


def key_changed(petname: str, pinned_key: bytes, offered_key: bytes) -> KeyChanged:
    return KeyChanged(
        "WARNING: THE IDENTITY KEY OF "
        f"{petname!r} HAS CHANGED!\n"
        "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
        "Someone could be intercepting this conversation (a man-in-the-middle attack),\n"
        f"or {petname!r} may have reinstalled p2pchat or moved to a new device.\n"
        f"Pinned key fingerprint:  {fingerprint(pinned_key)}\n"
        f"Offered key fingerprint: {fingerprint(offered_key)}\n"
        "Nothing was changed. Ask them through another channel; if they really have a new\n"
        "key, pair again with a new code and accept the new key deliberately.",
        petname=petname,
        pinned_key=pinned_key,
        offered_key=offered_key,
    )


@dataclass(frozen=True)
class Contact:
    """One pinned peer. Times are Unix seconds."""

    petname: str
    identity_key: bytes = field(repr=False)
    safety_number: str
    verified: bool
    blocked: bool
    first_seen: float
    last_seen: float
    reconnect_psk: bytes = field(repr=False)  # empty while the secrets are locked
    # The fallback for one meeting after a ratchet step, and where to meet (fixed at
    # pairing): see ``store.contact_secrets``.
    previous_psk: bytes = field(default=b"", repr=False)
    meeting_key: bytes = field(default=b"", repr=False)
    sealed_secrets: bytes = field(default=b"", repr=False)

    @property
    def fingerprint(self) -> str:
        """The printable fingerprint of the contact's identity key."""
        return fingerprint(self.identity_key)

    @property
    def locked(self) -> bool:
        """The secrets are sealed with an identity (passphrase) this book was not opened with."""
        return not self.reconnect_psk

    def secrets(self) -> contact_secrets.Secrets:
        return contact_secrets.Secrets(
            self.reconnect_psk, self.previous_psk, self.meeting_key, self.sealed_secrets
        )


def validate_petname(petname: str) -> str:
    """The petname normalised (NFC, surrounding spaces stripped), or ``ContactError``."""
    if not isinstance(petname, str):
        raise ContactError("A petname must be text.")
    name = unicodedata.normalize("NFC", petname).strip()
    if not name:
        raise ContactError("A petname cannot be empty.")
    if len(name) > MAX_PETNAME_CHARS:
        raise ContactError(f"A petname can have at most {MAX_PETNAME_CHARS} characters.")
    for char in name:
        # Category C covers control, format (bidi overrides), surrogate and unassigned.
        if unicodedata.category(char).startswith("C"):
            raise ContactError("A petname cannot contain control or invisible characters.")
        if char in _FORBIDDEN_IN_PETNAME:
            raise ContactError("A petname cannot contain '/' or '\\'.")
    if name in {".", ".."}:
        raise ContactError("A petname cannot be '.' or '..'.")
    return name


def same_name(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def check_key(identity_key: bytes) -> bytes:
    if not isinstance(identity_key, bytes) or len(identity_key) != IDENTITY_KEY_BYTES:
        raise ContactError(f"An identity key must be {IDENTITY_KEY_BYTES} bytes.")
    return identity_key


def check_psk(psk: bytes) -> bytes:
    if not isinstance(psk, bytes) or len(psk) != PSK_BYTES:
        raise ContactError(f"A reconnect secret must be {PSK_BYTES} bytes.")
    return psk


def check_safety_number(number: str) -> str:
    digits = number.replace(" ", "") if isinstance(number, str) else ""
    if len(digits) != SAFETY_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        raise ContactError(f"A safety number must be {SAFETY_NUMBER_DIGITS} digits.")
    return digits


def find_name(contacts: list[Contact], petname: str) -> Contact | None:
    try:
        name = validate_petname(petname)
    except ContactError:
        return None
    return next((c for c in contacts if same_name(c.petname, name)), None)


def find_key(contacts: list[Contact], identity_key: bytes) -> Contact | None:
    return next((c for c in contacts if c.identity_key == identity_key), None)


class Malformed(Exception):
    pass


def encode(contacts: list[Contact], secrets_key: bytes | None = None) -> bytes:
    sealed = secrets_key is not None or any(c.locked for c in contacts)
    document = {
        "format": FORMAT_NAME,
        "version": SEALED_FORMAT_VERSION if sealed and contacts else FORMAT_VERSION,
        "contacts": [
            {
                "petname": c.petname,
                "identity_key": base64.b64encode(c.identity_key).decode("ascii"),
                "safety_number": c.safety_number,
                "verified": c.verified,
                "blocked": c.blocked,
                "first_seen": c.first_seen,
                "last_seen": c.last_seen,
                **contact_secrets.encode(c.identity_key, c.secrets(), secrets_key),
            }
            for c in sorted(contacts, key=lambda c: c.petname.casefold())
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def decode(data: bytes, secrets_key: bytes | None = None) -> list[Contact]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested deep
        raise Malformed("it is truncated or damaged") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise Malformed("it is not a p2pchat contacts file")
    version = document.get("version")
    if isinstance(version, bool) or version not in (FORMAT_VERSION, SEALED_FORMAT_VERSION):
        raise Malformed(f"unsupported format version {version!r}; a newer p2pchat wrote it?")
    entries = document.get("contacts")
    if not isinstance(entries, list):
        raise Malformed("the contact list is missing")
    if len(entries) > MAX_CONTACTS:
        raise Malformed(f"more than {MAX_CONTACTS} contacts")
    contacts: list[Contact] = []
    for index, entry in enumerate(entries):
        try:
            contact = decode_contact(entry, secrets_key)
        except (KeyError, TypeError, ValueError, binascii.Error, ContactError) as error:
            raise Malformed(f"entry {index + 1} is malformed: {error}") from None
        if find_name(contacts, contact.petname) or find_key(contacts, contact.identity_key):
            raise Malformed(f"entry {index + 1} duplicates another contact")
        contacts.append(contact)
    return contacts


def decode_contact(entry: object, secrets_key: bytes | None) -> Contact:
    if not isinstance(entry, dict):
        raise TypeError("not an object")

    def flag(name: str) -> bool:
        value = entry[name]
        if not isinstance(value, bool):
            raise TypeError(f"{name} is not true or false")
        return value

    def timestamp(name: str) -> float:
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} is not a number")
        return float(value)

    def blob(name: str) -> bytes:
        value = entry[name]
        if not isinstance(value, str):
            raise TypeError(f"{name} is not text")
        return base64.b64decode(value.encode("ascii"), validate=True)

    petname = entry["petname"]
    if not isinstance(petname, str) or validate_petname(petname) != petname:
        raise ValueError("invalid petname")
    identity_key = check_key(blob("identity_key"))
    secrets = contact_secrets.decode(entry, identity_key, secrets_key)
    return Contact(
        petname=petname,
        identity_key=identity_key,
        safety_number=check_safety_number(entry["safety_number"]),
        verified=flag("verified"),
        blocked=flag("blocked"),
        first_seen=timestamp("first_seen"),
        last_seen=timestamp("last_seen"),
        reconnect_psk=secrets.reconnect_psk,
        previous_psk=secrets.previous_psk,
        meeting_key=secrets.meeting_key,
        sealed_secrets=secrets.sealed,
    )
