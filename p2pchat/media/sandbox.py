"""What the image worker may see: a minimal environment, no working directory, Landlock.

The parent gives the child ``child_environment()`` (no passphrase, no TURN
secret, no HOME). The child calls ``confine(roots)`` before it reads any image:

- it moves into an empty directory that it removes at once, so nothing can be
  created in its working directory and nothing is left behind;
- on Linux with Landlock (5.13+, ABI 1..7 here through raw syscalls, since the
  standard library has no binding), it may from then on only *read* files under
  ``roots`` (the Python installation and p2pchat's own code) and the system
  library folders: no write, no file creation anywhere, no key file, no config
  folder; with ABI 4+ no TCP bind or connect; with ABI 6+ no signals to other
  processes and no abstract Unix sockets.

Not available: a seccomp filter (it needs BPF assembled by hand or libseccomp,
neither in pure Python), and any confinement on macOS or Windows, where only
the minimal environment, the resource limits and the pipes protect the parent.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

# Fewer malloc arenas keep the child's address space small under RLIMIT_AS. Large
# buffers (a photo's pixels) on transparent huge pages where the kernel offers them: a
# fresh process otherwise takes a page fault per 4 KiB of every new buffer, a quarter
# of the receiver's cleaning time for a 2048 px photo (glibc 2.35+; ignored elsewhere).
_CHILD_ENV = {
    "MALLOC_ARENA_MAX": "2",
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
    "LC_ALL": "C.UTF-8",
}
_SYSTEM_LIBRARIES = (
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
)

# linux/landlock.h; these syscall numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_READ_FILE, _READ_DIR = 1 << 2, 1 << 3
# Every file-system right each ABI knows: handled (hence denied) unless a rule grants it.
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2


# ctypes only where the child confines itself: the chat process needs no more of this
# module than child_environment, and importing ctypes was 2 ms of every receiver's start.
@functools.cache
def _structures() -> tuple[type[ctypes.Structure], type[ctypes.Structure]]:
    """Landlock's ruleset and path-beneath attributes, as ctypes structures."""
    import ctypes

    class RulesetAttr(ctypes.Structure):
        _fields_ = [
            ("handled_access_fs", ctypes.c_uint64),
            ("handled_access_net", ctypes.c_uint64),
            ("scoped", ctypes.c_uint64),
        ]

    class PathBeneathAttr(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    return RulesetAttr, PathBeneathAttr


def child_environment() -> dict[str, str]:
    """The child's whole environment: nothing inherited from the parent's."""
    return dict(_CHILD_ENV)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 when unavailable (not Linux, disabled, too old)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        version = libc.syscall(
            _SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION
        )
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def confine(roots: Iterable[str]) -> int:
    """Empty working directory, then read-only access beneath ``roots``; the ABI used (0: none)."""
    _enter_empty_directory()
    abi = landlock_abi()
    if abi:
        _restrict(abi, [*roots, *_SYSTEM_LIBRARIES])
    return abi


def _enter_empty_directory() -> None:
    empty = tempfile.mkdtemp(prefix="p2pchat-worker-")
    os.chdir(empty)
    os.rmdir(empty)  # still our working directory, but nothing can be created in it


def _restrict(abi: int, readable: Iterable[str]) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fs_rights = _FS_RIGHTS_BY_ABI[max(v for v in _FS_RIGHTS_BY_ABI if v <= abi)]
    attr = _structures()[0](handled_access_fs=fs_rights)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in sorted(set(readable)):
            _allow_reading(libc, ruleset, path)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def _allow_reading(libc: ctypes.CDLL, ruleset: int, path: str) -> None:
    import ctypes

    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this system does not have
    try:
        rights = _READ_FILE if not os.path.isdir(path) else _READ_FILE | _READ_DIR
        rule = _structures()[1](allowed_access=rights, parent_fd=fd)
        if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
