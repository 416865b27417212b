"""Load the WebRTC stack (``net.rtc``, hence aiortc) in a background thread.

Importing aiortc takes about 0.2 s (it pulls in PyAV, aioice, cryptography) and
nothing needs it until a pairing has proved the code right and opens a link.
So nothing imports ``net.rtc`` at the top of the service: the inviter starts
this thread once its code is on the screen, the joiner as it connects to the
mailbox, and the import overlaps the time the other person types the code and
the mailbox round trips. Whoever needs ``net.rtc`` first simply imports it; if
the thread is still at it, Python's import lock makes that import wait for it.

With a direct TCP path on offer (``ServiceConfig.direct_tcp``: ``send`` and
``receive``) neither side preloads: on a shared network aiortc is never needed,
and its import would only take CPU from the pairing and the photo; when WebRTC
does start (``service/direct_race``), opening its link imports it.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

log = logging.getLogger(__name__)
_MODULE = "p2pchat.net.rtc"
_lock = threading.Lock()
_thread: threading.Thread | None = None


def preload_rtc() -> None:
    """Start importing ``net.rtc`` in a daemon thread (once; nothing if already loaded)."""
    global _thread
    with _lock:
        if _thread is not None or _MODULE in sys.modules:
            return
        _thread = threading.Thread(target=_load, name="p2pchat-preload-rtc", daemon=True)
        _thread.start()


def _load() -> None:
    try:
        importlib.import_module(_MODULE)
    except Exception:  # the import on the main thread will raise it again, where it counts
        log.debug("preloading the WebRTC stack failed", exc_info=True)
