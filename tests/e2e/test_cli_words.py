"""The CLI says what it does (issue 16 §7): every app command has a description in
its --help, and the line ``p2pchat send`` prints (``code: N-word-word-word``) is
accepted as it is by ``receive``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from p2pchat.cli.options import strip_code_label


@pytest.mark.parametrize("command", ["home", "invite", "join"])
def test_app_commands_describe_themselves(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "p2pchat", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stderr
    usage_end = result.stdout.index("\n\n")
    description = result.stdout[usage_end:].split("options:")[0].strip()
    assert len(description.split()) >= 10, result.stdout


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("code: 4-cobra-impetus-cranky", "4-cobra-impetus-cranky"),
        ("  Code:4-cobra-impetus-cranky\n", "4-cobra-impetus-cranky"),
        ("4-cobra-impetus-cranky", "4-cobra-impetus-cranky"),
        ("4 cobra impetus cranky", "4 cobra impetus cranky"),
    ],
)
def test_the_send_line_is_a_code(line: str, code: str) -> None:
    assert strip_code_label(line) == code
