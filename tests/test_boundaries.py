"""The layering promises, checked in a fresh interpreter (import-linter checks the source)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_modules(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["p2pchat.headless", "p2pchat.service"])
def test_headless_and_service_never_load_textual(module):
    loaded = loaded_modules(f"import {module}")
    assert module in loaded
    assert not {"textual", "textual_image", "p2pchat.tui"} & loaded


def test_command_line_help_loads_no_network_or_ui_stack():
    loaded = loaded_modules(
        "from p2pchat.cli.main import build_parser\nbuild_parser().format_help()"
    )
    assert "p2pchat.cli.main" in loaded
    assert not {"aiortc", "textual", "PIL"} & loaded
