"""The chat screen's slash commands: ``/send``, ``/verify``, ``/export``, ``/timer``, ...

``run_command`` reads one line the user typed after ``/`` and acts through the
screen's own actions and messages; ``/export`` is the only way a conversation
reaches a disk (text only, never a view-once photo).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from p2pchat.core.errors import P2PChatError
from p2pchat.core.labels import safe_label
from p2pchat.core.timer import parse_timer
from p2pchat.i18n import t
from p2pchat.service.export import export_evidence
from p2pchat.tui.widgets.message_list import MessageList
from p2pchat.tui.widgets.status_bar import timer_word

if TYPE_CHECKING:
    from p2pchat.tui.screens.chat import ChatScreen


def run_command(screen: ChatScreen, line: str) -> None:
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
        screen.query_one(MessageList).add_notice(notice, level="warning")


def name_command(screen: ChatScreen, args: list[str]) -> None:
    """``/name NEW``: the name the other person sees, from the next conversation on."""
    messages = screen.query_one(MessageList)
    wanted = " ".join(args).strip()
    if not wanted:
        messages.add_notice(t("name_prompt.usage"), level="warning")
        return
    setter = getattr(screen.app, "set_display_name", None)
    shown = setter(wanted) if setter is not None else ""
    if shown:
        messages.add_notice(t("name_prompt.changed", name=shown))


def export_command(screen: ChatScreen, args: list[str]) -> None:
    """``/export PATH [--force]``: the evidence file (text only, never view-once)."""
    messages = screen.query_one(MessageList)
    force = "--force" in args
    words = [word for word in args if word != "--force"]
    if len(words) != 1:
        messages.add_notice(t("export.usage"), level="warning")
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
        messages.add_notice(t("export.exists", path=shown), level="warning")
    except OSError as error:
        reason = error.strerror or str(error)
        messages.add_notice(t("export.failed", path=shown, reason=reason), level="error")
    except P2PChatError as error:
        messages.add_notice(t("export.failed", path=shown, reason=str(error)), level="error")
    else:
        path = safe_label(str(written), 300)
        messages.add_notice(t("export.done", path=path, peer=screen.peer_label))


def timer_command(screen: ChatScreen, args: list[str]) -> None:
    """``/timer off|30s|5m|1h|1d``: ask the app to agree it with the peer."""
    messages = screen.query_one(MessageList)
    if len(args) != 1:
        current = timer_word(screen.conversation.disappearing.value) or "off"
        messages.add_notice(t("timer.usage", current=current), level="warning")
        return
    try:
        seconds = parse_timer(args[0])
    except ValueError:
        messages.add_notice(t("timer.usage", current=safe_label(args[0], 20)), level="warning")
        return
    if screen.ended:
        messages.add_notice(t("chat.not_connected"), level="warning")
        return
    screen.post_message(screen.SetTimer(seconds))
