"""A file-system witness built on ``sys.addaudithook`` for the "never touches the disk" claim.

``FileAudit`` records, while active, every file open (with its mode and flags),
``tempfile.mkstemp``/``mkdtemp``, ``shutil.*`` and the ``os`` calls that change
the file system, and every ``subprocess.Popen``. ``problems(secrets)`` then says
in plain words what broke the claim:

- a file opened for writing, appending or creating (``/dev/null`` aside: the
  sanitiser's child gets it as stderr; it stores nothing);
- a write-mode open of a descriptor that is a regular file (pipes, sockets and
  terminals are not storage);
- a temp file or directory, any ``shutil`` or file-system-changing ``os`` call;
- a child process other than the isolated sanitiser, or one given a file argument;
- any regular file the process opened (read or write) that contains a slice of
  one of the secrets.

Audit hooks cannot be removed, so one hook is installed for the whole test
session and forwards to the audits that are active. Hooks see this process
only: what the sanitiser's child does is checked by reading media/worker.py.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from p2pchat.media.worker import worker_argv

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_FS_CHANGES = frozenset(
    {
        "os.rename",
        "os.remove",
        "os.truncate",
        "os.mkdir",
        "os.link",
        "os.symlink",
        "os.chmod",
        "os.utime",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
    }
)
_NOT_STORAGE_PREFIXES = ("/proc/", "/sys/", "/dev/")
PROBE_SIZE = 48
MAX_SCANNED_FILE = 256 * 1024 * 1024

_active: list[FileAudit] = []
_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active:
        return
    watched = event in ("open", "os.open", "subprocess.Popen") or event in _FS_CHANGES
    if not (watched or event.startswith("shutil.")):
        return
    for audit in list(_active):
        audit.record(event, args)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def _path_text(path: Any) -> str | None:
    if isinstance(path, bytes):
        return os.fsdecode(path)
    if isinstance(path, str):
        return path
    if isinstance(path, os.PathLike):
        value = os.fspath(path)
        return os.fsdecode(value) if isinstance(value, bytes) else value
    return None


def _writes(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


@dataclass
class FileAudit:
    """Records file-system activity of this process between ``__enter__`` and ``__exit__``."""

    writes: list[str] = field(default_factory=list)
    opened: set[str] = field(default_factory=set)
    fd_writes: list[str] = field(default_factory=list)  # descriptors opened to write
    processes: list[list[str]] = field(default_factory=list)
    events: int = 0

    def __enter__(self) -> FileAudit:
        _install()
        _active.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        _active.remove(self)

    def record(self, event: str, args: tuple[Any, ...]) -> None:
        self.events += 1
        if event in ("open", "os.open"):
            path, mode, flags = (*args, None, None, None)[:3]
            if isinstance(path, int):
                if _writes(mode, flags):
                    self.fd_writes.append(_describe_fd(path))
                return
            text = _path_text(path)
            if text is None:
                return
            self.opened.add(text)
            if _writes(mode, flags) and text != os.devnull:
                self.writes.append(f"open({text!r}, mode={mode!r}, flags={flags!r})")
        elif event == "subprocess.Popen":
            _executable, argv, _cwd, _env = (*args, None, None, None, None)[:4]
            if isinstance(argv, (str, bytes)):
                argv = [argv]
            self.processes.append([os.fsdecode(a) for a in (argv or [])])
        else:
            self.writes.append(f"{event}{tuple(_path_text(a) or repr(a) for a in args)}")

    def problems(self, secrets: list[bytes]) -> list[str]:
        """Everything that contradicts "nothing written, the secrets in no file"."""
        found = [f"written: {entry}" for entry in self.writes]
        found += [
            f"written to a file descriptor: {entry}"
            for entry in self.fd_writes
            if entry.startswith("regular file")
        ]
        for argv in self.processes:
            if argv not in (worker_argv("send"), worker_argv("receive")):
                found.append(f"unexpected child process: {argv}")
            for arg in argv[1:]:
                if os.path.isfile(arg):
                    found.append(f"child process given a file: {arg}")
        probes = [probe for secret in secrets for probe in _probes(secret)]
        for path in sorted(self.opened):
            holder = _file_holding(path, probes)
            if holder:
                found.append(f"the image bytes are in {holder}")
        return found


def _describe_fd(fd: int) -> str:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return f"closed descriptor {fd}"
    if stat.S_ISREG(mode):
        return f"regular file (fd {fd})"
    if stat.S_ISFIFO(mode):
        return f"pipe (fd {fd})"
    if stat.S_ISSOCK(mode):
        return f"socket (fd {fd})"
    return f"device (fd {fd})"


def _probes(secret: bytes) -> list[bytes]:
    """Slices from the middle of the data: headers and tables are shared by many JPEGs."""
    if len(secret) < 4 * PROBE_SIZE:
        return [secret]
    return [secret[int(len(secret) * f) :][:PROBE_SIZE] for f in (0.3, 0.5, 0.7, 0.9)]


def _file_holding(path: str, probes: list[bytes]) -> str | None:
    absolute = os.path.abspath(path)
    if absolute.startswith(_NOT_STORAGE_PREFIXES):
        return None
    try:
        info = os.stat(absolute)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SCANNED_FILE:
            return None
        with open(absolute, "rb") as file:
            content = file.read()
    except OSError:
        return None  # gone again (a temp file) cannot be checked, but its creation was recorded
    return absolute if any(probe in content for probe in probes) else None
