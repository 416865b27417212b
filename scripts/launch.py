"""What the executables in scripts/ (nat-lab, relay, mailbox-load) do before their code
runs: find the project's Python, so that they work from a fresh shell with nothing on
PATH and no virtualenv activated."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use_project_python(script: str) -> None:
    """Re-run ``script`` under the clone's .venv when this Python lacks p2pchat."""
    if importlib.util.find_spec("p2pchat") is not None:
        return
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        # The same script, same arguments, only another interpreter: no shell involved.
        os.execv(venv_python, [str(venv_python), script, *sys.argv[1:]])  # noqa: S606
