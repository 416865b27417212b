"""The TUI imported afresh in one language, so key labels built at import speak it too.

Binding descriptions (``Binding("escape", "cancel", t("keys.cancel"))``) are made when
a screen's class is defined, as in the real program, where ``p2pchat --lang ja`` sets
the language before the TUI is imported. A test that wants another language does the
same: ``fresh_tui("ja")`` takes every ``p2pchat.tui`` module out of ``sys.modules``,
sets the language, hands back an importer for the fresh modules, and puts the old
modules back afterwards, so the other tests of the process are untouched. Everything
such a test uses from the TUI must come from that importer.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

from p2pchat.i18n import get_language, set_language

#: Kept: it patches Textual's line breaking once for the process (see its docstring).
_KEPT = frozenset({"p2pchat.tui", "p2pchat.tui.cjk_wrap"})


def _tui_modules() -> dict[str, ModuleType]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name.startswith("p2pchat.tui.") and name not in _KEPT
    }


@contextmanager
def fresh_tui(language: str) -> Iterator[Callable[[str], ModuleType]]:
    """Within the block, ``load("p2pchat.tui.app")`` is that module built in ``language``."""
    saved = _tui_modules()
    package = sys.modules["p2pchat.tui"]
    saved_attributes = {k: v for k, v in vars(package).items() if isinstance(v, ModuleType)}
    previous = get_language()
    for name in saved:
        del sys.modules[name]
    set_language(language)
    try:
        yield importlib.import_module
    finally:
        for name in _tui_modules():
            del sys.modules[name]
        sys.modules.update(saved)
        for name, module in saved_attributes.items():
            setattr(package, name, module)
        set_language(previous)
