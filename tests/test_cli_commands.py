"""Which module adds each subcommand: `p2pchat send` loads only its own (cli/main.py).

``COMMAND_MODULES`` is a table written by hand so that a known subcommand needs no other
module imported; these tests keep it equal to what the modules really register, and
check in a fresh interpreter that parsing a subcommand imports no other command module.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from p2pchat.cli.main import COMMAND_MODULES, build_parser, command_modules


def test_the_table_names_every_subcommand_of_every_module() -> None:
    registered: dict[str, str] = {}
    for name in command_modules():
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"p2pchat.cli.{name}").register(subparsers)
        registered.update(dict.fromkeys(subparsers.choices, name))
    assert registered == COMMAND_MODULES


def test_the_main_help_still_lists_every_subcommand() -> None:
    help_text = build_parser().format_help()
    assert all(command in help_text for command in COMMAND_MODULES)


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_a_subcommand_imports_only_its_own_module(command: str) -> None:
    # --help prints the subcommand's own help and exits; at exit, the command modules loaded.
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(' '.join(sorted(\n"
        "    m for m in sys.modules if m.startswith('p2pchat.cli.cmd_')))))\n"
        "from p2pchat.cli.main import main\n"
        f"main([{command!r}, '--help'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.split() == [f"p2pchat.cli.{COMMAND_MODULES[command]}"], done.stderr
    assert f"p2pchat {command}" in done.stdout  # its own usage line, as before
