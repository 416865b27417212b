"""End a finished one-shot command without tearing the interpreter down.

Once `p2pchat send` or `receive` is done, CPython's finalisation (freeing every
object of aiortc, PyAV, cryptography and the rest, module by module) still takes
0.1-0.2 s on a two-core machine: a tenth of a 12 MP photo's door-to-door time
(scripts/bench.py, "door to door"). Everything that matters is finished by then:
files are written and closed, workers reaped, connections closed. So ``finish``
runs the atexit handlers (logging's flush among them), flushes stdout and stderr,
and ends the process with ``os._exit``.

Only when p2pchat *is* the process: ``cli.main.main`` called as the entry point
(``argv`` None) calls ``enable``. A caller that imported ``main`` (tests, scripts)
gets the exit code back as usual.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys

_enabled = False


def enable() -> None:
    """This process ends when its command is done: ``finish`` may skip finalisation."""
    global _enabled
    _enabled = True


def finish(code: int) -> int:
    """Exit now with ``code`` when enabled (after atexit and flushing); else return it."""
    if not _enabled:
        return code
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that left: nothing to add
            stream.flush()
    os._exit(code)
