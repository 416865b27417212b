"""The view-once vault: received view-once photos, held in memory only, shown once, then wiped.

Owns every byte of a view-once photo on the receiving side from the moment the
receiver's sanitiser hands it over until the viewer closes or the photo
expires. Each item's bytes live in one ``bytearray`` the vault owns and
overwrites with zeros when it is done; nothing here touches the disk, and the
vault refuses to be pickled, copied, saved, forwarded or exported.

While at least one item is held, core dumps are disabled (soft ``RLIMIT_CORE``
of 0, and ``PR_SET_DUMPABLE`` 0 on Linux, which also keeps same-user debuggers
out); both are restored when the vault is empty again. Best effort: where the
platform refuses, the photo is still only in memory.

Honest limits: the bytes passed through the (pipe-only) sanitiser worker and
through immutable ``bytes`` objects on the way in; Python frees those without
overwriting them. The vault wipes what it owns, it cannot scrub the heap.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, NoReturn

from p2pchat.core.errors import P2PChatError

# How long a received view-once photo may wait unopened before it is wiped.
DEFAULT_UNOPENED_TIMEOUT: Final = 24 * 3600.0
DEFAULT_VIEW_SECONDS: Final = 10.0
# An opened photo whose viewer never closed (a crash, a bug) is wiped this long after
# its countdown should have ended.
OPEN_GRACE_SECONDS: Final = 5.0
_PR_SET_DUMPABLE: Final = 4

GoneReason = Literal["viewed", "expired", "wiped"]


class ViewOnceRefusedError(P2PChatError):
    """A view-once photo cannot be saved, forwarded, exported, copied or opened again."""

    reason = "view_once_refused"


@dataclass(frozen=True)
class VaultEntry:
    """What may be known about a sealed item without opening it (no pixels, no preview)."""

    vault_id: str
    message_id: str
    mime: str
    width: int
    height: int
    view_seconds: float
    expires_at: float
    opened: bool


class _Item:
    """One sealed photo. Only the vault holds a reference; tests watch it with a weakref."""

    __slots__ = ("__weakref__", "data", "entry", "opened_at", "view")

    def __init__(self, data: bytearray, entry: VaultEntry) -> None:
        self.data: bytearray | None = data
        self.entry = entry
        self.opened_at: float | None = None
        self.view: memoryview | None = None

    def __reduce__(self) -> NoReturn:
        _refuse("copy")


def _refuse(action: str) -> NoReturn:
    raise ViewOnceRefusedError(
        f"A view-once photo cannot be {_PAST[action]}: it is shown once, from memory, "
        "and then it is gone."
    )


_PAST: Final = {
    "save": "saved",
    "forward": "forwarded",
    "export": "exported",
    "copy": "copied",
}


def zero(buffer: bytearray) -> None:
    """Overwrite in place with zeros; the length stays, so it works while views exist."""
    buffer[:] = bytes(len(buffer))


class Vault:
    """Sealed view-once photos of one conversation, in memory only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, _Item] = {}
        self._gone: dict[str, GoneReason] = {}
        self._protected = False

    # ------------------------------------------------------------------ queries
    def __contains__(self, vault_id: object) -> bool:
        return vault_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def entry(self, vault_id: str) -> VaultEntry | None:
        item = self._items.get(vault_id)
        return None if item is None else item.entry

    def ids_for(self, message_id: str) -> list[str]:
        """The vault ids (normally one) holding the photo of ``message_id``."""
        return [vid for vid, item in self._items.items() if item.entry.message_id == message_id]

    def gone_reason(self, vault_id: str) -> GoneReason | None:
        """Why an item is no longer here (viewed, expired, wiped), or None if unknown."""
        return self._gone.get(vault_id)

    def next_deadline(self) -> float | None:
        """When ``expire`` next has something to wipe."""
        return min((self._deadline(item) for item in self._items.values()), default=None)

    # ------------------------------------------------------------------ lifecycle
    def put(
        self,
        message_id: str,
        data: bytearray,
        mime: str,
        w: int,
        h: int,
        view_seconds: float = DEFAULT_VIEW_SECONDS,
        expires_at: float | None = None,
    ) -> str:
        """Take ownership of ``data`` (the caller must keep no other reference); returns its id."""
        if not isinstance(data, bytearray):
            # bytes cannot be overwritten afterwards: the vault only holds what it can wipe.
            raise TypeError("the vault only holds bytearrays, which it can overwrite")
        if expires_at is None:
            expires_at = self._clock() + DEFAULT_UNOPENED_TIMEOUT
        vault_id = secrets.token_hex(8)
        entry = VaultEntry(
            vault_id, message_id, mime, int(w), int(h), float(view_seconds), expires_at, False
        )
        self._items[vault_id] = _Item(data, entry)
        if not self._protected:
            self._protected = True
            _DUMP_GUARD.acquire()
        return vault_id

    def open(self, vault_id: str) -> memoryview:
        """The photo's bytes, read-only, exactly once; ``close`` must follow."""
        item = self._items.get(vault_id)
        if item is None:
            reason = self._gone.get(vault_id)
            if reason == "viewed":
                raise ViewOnceRefusedError("This view-once photo was already opened once.")
            if reason is not None:
                raise ViewOnceRefusedError(
                    f"This view-once photo is gone ({reason}) and cannot be opened."
                )
            raise ViewOnceRefusedError("There is no such view-once photo.")
        if item.opened_at is not None or item.data is None:
            raise ViewOnceRefusedError("This view-once photo was already opened once.")
        item.opened_at = self._clock()
        item.entry = _replace_opened(item.entry)
        item.view = memoryview(item.data).toreadonly()
        return item.view

    def close(self, vault_id: str) -> None:
        """Overwrite the photo with zeros and drop every reference to it. Idempotent."""
        item = self._items.get(vault_id)
        if item is None:
            return
        self._wipe(vault_id, "viewed" if item.opened_at is not None else "wiped")

    def expire(self, now: float | None = None) -> list[str]:
        """Wipe unopened items past their deadline (and viewers left open too long)."""
        now = self._clock() if now is None else now
        overdue = [vid for vid, item in self._items.items() if now >= self._deadline(item)]
        for vault_id in overdue:
            item = self._items[vault_id]
            self._wipe(vault_id, "viewed" if item.opened_at is not None else "expired")
        return overdue

    def wipe_all(self) -> list[str]:
        """Wipe everything (the conversation is over)."""
        ids = list(self._items)
        for vault_id in ids:
            self._wipe(vault_id, "wiped")
        return ids

    # ----------------------------------------------------- paths that must refuse
    def save(self, vault_id: str, *_args: object, **_kwargs: object) -> NoReturn:
        _refuse("save")

    def forward(self, vault_id: str, *_args: object, **_kwargs: object) -> NoReturn:
        _refuse("forward")

    def export(self, vault_id: str, *_args: object, **_kwargs: object) -> NoReturn:
        _refuse("export")

    def __reduce__(self) -> NoReturn:
        _refuse("copy")

    def __copy__(self) -> NoReturn:
        _refuse("copy")

    def __deepcopy__(self, memo: object) -> NoReturn:
        _refuse("copy")

    def __getstate__(self) -> NoReturn:
        _refuse("copy")

    def __repr__(self) -> str:
        return f"<Vault: {len(self._items)} sealed>"

    def __del__(self) -> None:
        # A vault dropped without close still wipes, and gives the dump settings back.
        with contextlib.suppress(Exception):
            self.wipe_all()

    # ------------------------------------------------------------------ helpers
    def _deadline(self, item: _Item) -> float:
        if item.opened_at is not None:
            return item.opened_at + item.entry.view_seconds + OPEN_GRACE_SECONDS
        return item.entry.expires_at

    def _wipe(self, vault_id: str, reason: GoneReason) -> None:
        item = self._items.pop(vault_id)
        self._gone[vault_id] = reason
        data, view = item.data, item.view
        item.data = item.view = None
        if data is not None:
            zero(data)
        if view is not None:
            # Later reads through a view the viewer kept raise instead of seeing zeros.
            with contextlib.suppress(BufferError):
                view.release()
        del data, view, item
        if not self._items and self._protected:
            self._protected = False
            _DUMP_GUARD.release()


def _replace_opened(entry: VaultEntry) -> VaultEntry:
    from dataclasses import replace

    return replace(entry, opened=True)


class _DumpGuard:
    """Process-wide: engaged while any vault holds an item, restored when the last empties."""

    def __init__(self) -> None:
        self._holders = 0
        self._protection: _DumpProtection | None = None
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders == 1:
                self._protection = _DumpProtection.engage()

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders == 0 and self._protection is not None:
                self._protection.restore()
                self._protection = None


class _DumpProtection:
    """No core file and no ptrace-by-default while a view-once photo is in memory."""

    def __init__(self, core_limit: tuple[int, int] | None, dumpable: int | None) -> None:
        self._core_limit = core_limit
        self._dumpable = dumpable

    @classmethod
    def engage(cls) -> _DumpProtection:
        core_limit: tuple[int, int] | None = None
        try:
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
            # Only the soft limit: lowering the hard one could never be undone unprivileged.
            resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
            core_limit = (soft, hard)
        except (ImportError, ValueError, OSError):
            pass
        dumpable: int | None = None
        prctl = _prctl()
        if prctl is not None:
            with contextlib.suppress(OSError, AttributeError, ValueError):
                previous = int(prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE
                if previous >= 0 and prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
                    dumpable = previous
        return cls(core_limit, dumpable)

    def restore(self) -> None:
        if self._core_limit is not None:
            with contextlib.suppress(ImportError, ValueError, OSError):
                import resource

                resource.setrlimit(resource.RLIMIT_CORE, self._core_limit)
        if self._dumpable is not None:
            prctl = _prctl()
            if prctl is not None:
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    prctl(_PR_SET_DUMPABLE, self._dumpable, 0, 0, 0)


_DUMP_GUARD: Final = _DumpGuard()


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: only a view-once photo being shown needs it

    try:
        # The running process's own symbols: ctypes.util.find_library would spawn
        # ldconfig or gcc (and write a temp file) just to find libc.
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return function


def process_dumpable() -> bool | None:
    """Whether the kernel would write a core file / allow ptrace now (None: unknown)."""
    prctl = _prctl()
    if prctl is None:
        return None
    with contextlib.suppress(OSError, AttributeError):
        return bool(prctl(3, 0, 0, 0, 0))
    return None
