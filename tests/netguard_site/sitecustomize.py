"""Loaded by every ``p2pchat`` process a test starts: refuse public servers there too.

A refused contact prints one line to stderr and ends the process with exit code
97 (``tests.netguard.GUARD_EXIT``) at once, so no error handler can hide it.
"""

import os
import sys


def _install() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, root)
    try:
        from tests.netguard import GUARD_EXIT, install
    finally:
        sys.path.remove(root)

    def refuse(host: str) -> None:
        sys.stderr.write(f"netguard: this test process tried to contact a public server: {host}\n")
        sys.stderr.flush()
        os._exit(GUARD_EXIT)

    install(setattr, refuse)


_install()
