"""The only file writer of ``p2pchat.store``: crash-safe whole-file replacement.

``write_atomic`` writes to a temporary file in the target's directory, flushes
and fsyncs it, renames it over the target and fsyncs the directory, so that a
crash or SIGKILL at any moment leaves either the old or the new content, never
a mixture. ``directory_lock`` serialises read-modify-write cycles of several
p2pchat processes (the TUI and a CLI command, say) sharing one directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def write_atomic(
    path: str | os.PathLike[str], data: bytes, mode: int = 0o600, *, exclusive: bool = False
) -> None:
    """Replace ``path`` with ``data`` atomically; the file ends up with ``mode``.

    With ``exclusive`` the target must not exist yet (``FileExistsError``
    otherwise): two processes creating the same file cannot overwrite each other.
    """
    target = Path(path)
    directory = target.parent
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=directory
    )
    try:
        with os.fdopen(descriptor, "wb") as temp_file:
            os.fchmod(temp_file.fileno(), mode)
            temp_file.write(data)
            temp_file.flush()
            os.fsync(temp_file.fileno())
        if exclusive:
            # link() refuses an existing target, where replace() would clobber it.
            os.link(temp_name, target)
            os.unlink(temp_name)
        else:
            os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry itself reaches the disk.
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def directory_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory`` (flock on the directory itself).

    Locking the directory rather than a lock file keeps ``write_atomic`` the
    only thing that ever creates files here. A no-op where flock is missing.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(dir_fd)  # closing the descriptor releases the lock


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """Read a whole file, refusing one larger than ``limit`` before allocating for it.

    Raises ``FileNotFoundError`` when missing and ``ValueError`` (saying what and
    how big) when too large; callers turn the latter into their own error.
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise ValueError(f"{what} is {size} bytes, more than the {limit} allowed")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{what} grew past {limit} bytes while being read")
    return data
