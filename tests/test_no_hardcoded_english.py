"""No user-facing English is written into the CLI or the TUI's code (issue 16 §2).

Every text a person reads comes from the i18n catalogues, so ``--lang ja`` (or the
locale) reaches all of it. This walks the source: a string literal with English
words, handed to something that shows it (``print``, a status line, a notice, a
widget, an option's help), is the class of bug that left ``inspect`` and the
palette in English. Data and names are not words to translate: the program's own
name before a colon, and what ``ALLOWED`` lists with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import p2pchat

SOURCES = Path(p2pchat.__file__).parent
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")
PROGRAM_PREFIX = re.compile(r"^p2pchat(?: [a-z]+)?: ")
SHOWN_BY = {
    "print", "_status", "notify", "add_notice", "Static", "Button", "Label", "Checkbox",
    "Input", "update", "show_error", "show_progress", "pane_notice", "SystemCommand",
    "ArgumentTypeError", "UsageError", "_UsageError", "set_state", "emit",
}  # fmt: skip
SHOWN_AS = {"help", "description", "epilog", "placeholder", "title", "tooltip", "caption"}
#: (file, text) -> why it may stay as it is.
ALLOWED = {
    ("cli/cmd_transfer.py", "not kept: "): "the JSON error event's message, for programs",
}


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def english_literals() -> list[str]:
    found = []
    for folder in ("cli", "tui"):
        for path in sorted((SOURCES / folder).rglob("*.py")):
            where = path.relative_to(SOURCES).as_posix()
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = getattr(func, "id", None) or getattr(func, "attr", "")
                if name == "work":
                    continue  # a worker's description is for Textual's logs, not shown
                shown = list(node.args) if name in SHOWN_BY else []
                shown += [k.value for k in node.keywords if k.arg in SHOWN_AS]
                for argument in shown:
                    text = _literal(argument)
                    if text is None or (where, text) in ALLOWED:
                        continue
                    if ENGLISH.search(PROGRAM_PREFIX.sub("", text)):
                        found.append(f"{where}:{argument.lineno}: {text!r}")
    return found


def test_no_english_is_written_into_the_code() -> None:
    assert english_literals() == []


def test_the_scan_finds_what_it_is_for(tmp_path: Path) -> None:
    """The walker itself: an English literal in a shown call is found."""
    tree = ast.parse('print("nothing to send, give a file")\nStatic(t("a.b"))\n')
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    texts = [_literal(a) for c in calls for a in c.args]
    assert any(t and ENGLISH.search(t) for t in texts)
