"""The Textual user interface (the app, its screens and widgets, and the demo)."""

from p2pchat.tui.cjk_wrap import install as _install_cjk_wrap

# Before any widget renders: Japanese lines break between characters (see cjk_wrap).
_install_cjk_wrap()
