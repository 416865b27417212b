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

The start of such a process is imports, a few hundred thousand objects that live as
long as it does; the cyclic garbage collector would scan them again and again (about
15 ms of a receiver's CPU before it pairs). ``pause_collector`` stops it while the
command line is imported and built (``__main__``, ``cli.main``) and while a command
imports its stack (`receive`), ``resume_collector`` freezes what was loaded out of
every later pass and turns it back on. Also only when p2pchat is the process: a test
session calling ``main`` keeps its collector as it was.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys

_enabled = False
_collector_paused = False


def enable() -> None:
    """This process ends when its command is done: ``finish`` may skip finalisation."""
    global _enabled
    _enabled = True


def pause_collector() -> None:
    """No cyclic GC passes while the command imports its stack (see the module's note)."""
    global _collector_paused
    if _enabled and gc.isenabled():
        gc.disable()
        _collector_paused = True


def resume_collector() -> None:
    """Collect again, the objects loaded so far left out of it for good; idempotent."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()


def finish(code: int) -> int:
    """Exit now with ``code`` when enabled (after atexit and flushing); else return it."""
    if not _enabled:
        return code
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that left: nothing to add
            stream.flush()
    os._exit(code)
