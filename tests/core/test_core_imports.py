"""The core is sans-I/O: importing any of it loads no event loop, network or UI library."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import p2pchat.core

FORBIDDEN = ("asyncio", "aiortc", "aioice", "textual", "rich", "websockets", "PIL")

CHILD = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def core_modules() -> list[str]:
    # walk_packages: the modules inside core's subpackages (core.handshake) count too.
    return sorted(
        info.name for info in pkgutil.walk_packages(p2pchat.core.__path__, "p2pchat.core.")
    )


def test_the_modules_that_must_exist_are_found():
    found = core_modules()
    for required in (
        "p2pchat.core.handshake.pairing",
        "p2pchat.core.handshake.skeleton",
        "p2pchat.core.codes",
        "p2pchat.core.crypto",
    ):
        assert required in found


def test_importing_the_core_loads_no_io_or_ui_library():
    modules = ["p2pchat.core", *core_modules()]
    result = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, *modules],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert set(modules) <= loaded
    offenders = sorted(name for name in loaded if name.split(".")[0] in FORBIDDEN)
    assert offenders == []
