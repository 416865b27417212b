"""The chat screen's slash commands: ``/send``, ``/verify``, ``/export``, ``/timer``, ...

``run_command`` reads one line the user typed after ``/`` and acts through the
screen's own actions and messages; ``/export`` is the only way a conversation
reaches a disk (text only, never a view-once photo).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.core.message import ConversationView
from p2pchat.core.timer import parse_timer
from p2pchat.i18n import t
from p2pchat.service import events as ev
from p2pchat.service.export import export_evidence
from p2pchat.tui.widgets.status_bar import timer_word


class CommandScreen(Protocol):
    """What the commands use of the chat screen (``ChatScreen``), which imports this module."""

    my_label: str
    peer_label: str
    start_dir: Path
    ended: bool
    clock: Callable[[], float]
    paired: ev.Paired
    conversation: ConversationView

    @property
    def app(self) -> Any: ...

    def notice(self, text: str, level: Literal["info", "warning", "error"] = "info") -> None: ...

    def ask_timer(self, seconds: int) -> None: ...

    def open_send_dialog(self, path: Path, *, view_once: bool = False) -> None: ...

    def action_send_image(self) -> None: ...

    def action_verify(self) -> None: ...

    def action_block(self) -> None: ...

    def action_help(self) -> None: ...

    def action_leave(self) -> None: ...


def run_command(screen: CommandScreen, line: str) -> None:
    """Slash commands: /send [PATH], /verify, /export PATH [--force], /timer, /block, ..."""
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    command, args = words[0].lower(), words[1:]
    if command == "/send":
        if args:
            screen.open_send_dialog(Path(" ".join(args)).expanduser())
        else:
            screen.action_send_image()
    elif command == "/verify":
        screen.action_verify()
    elif command == "/export":
        export_command(screen, args)
    elif command == "/timer":
        timer_command(screen, args)
    elif command == "/block":
        screen.action_block()
    elif command == "/name":
        name_command(screen, args)
    elif command == "/help":
        screen.action_help()
    elif command in ("/quit", "/exit"):
        screen.action_leave()
    else:
        notice = t("chat.unknown_command", command=safe_label(command, 30))
        screen.notice(notice, level="warning")


def name_command(screen: CommandScreen, args: list[str]) -> None:
    """``/name NEW``: the name the other person sees, from the next conversation on."""
    wanted = " ".join(args).strip()
    if not wanted:
        screen.notice(t("name_prompt.usage"), level="warning")
        return
    setter = getattr(screen.app, "set_display_name", None)
    shown = setter(wanted) if setter is not None else ""
    if shown:
        screen.notice(t("name_prompt.changed", name=shown))


def export_command(screen: CommandScreen, args: list[str]) -> None:
    """``/export PATH [--force]``: the evidence file (text only, never view-once)."""
    force = "--force" in args
    words = [word for word in args if word != "--force"]
    if len(words) != 1:
        screen.notice(t("export.usage"), level="warning")
        return
    target = Path(words[0]).expanduser()
    if not target.is_absolute():
        target = screen.start_dir / target
    shown = safe_label(str(target), 300)
    try:
        written = export_evidence(
            screen.conversation,
            target,
            me=screen.my_label,
            peer=screen.peer_label,
            safety_number=screen.paired.safety_number,
            overwrite=force,
            clock=screen.clock,
        )
    except FileExistsError:
        screen.notice(t("export.exists", path=shown), level="warning")
    except OSError as error:
        reason = error.strerror or str(error)
        screen.notice(t("export.failed", path=shown, reason=reason), level="error")
    except P2PChatError as error:
        screen.notice(t("export.failed", path=shown, reason=str(error)), level="error")
    else:
        path = safe_label(str(written), 300)
        screen.notice(t("export.done", path=path, peer=screen.peer_label))


def timer_command(screen: CommandScreen, args: list[str]) -> None:
    """``/timer off|30s|5m|1h|1d``: ask the app to agree it with the peer."""
    if len(args) != 1:
        current = timer_word(screen.conversation.disappearing.value) or "off"
        screen.notice(t("timer.usage", current=current), level="warning")
        return
    try:
        seconds = parse_timer(args[0])
    except ValueError:
        screen.notice(t("timer.usage", current=safe_label(args[0], 20)), level="warning")
        return
    if screen.ended:
        screen.notice(t("chat.not_connected"), level="warning")
        return
    screen.ask_timer(seconds)
