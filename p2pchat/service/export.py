"""Writing a conversation out as evidence, at the user's explicit request.

The only place a conversation's words reach a file: plain text, never a
view-once item, with a header naming both sides and the peer's safety number.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from p2pchat.core.crypto import format_safety_number
from p2pchat.core.labels import safe_label
from p2pchat.core.message import ConversationView
from p2pchat.store.atomic import write_atomic
from p2pchat.store.contacts import MAX_PETNAME_CHARS

EXPORT_NOTE: Final = (
    "This file is a record of a p2pchat conversation, kept as evidence (for example of "
    "threats or harassment). It contains the other person's words; it was written only "
    "because the user asked for it. View-once photos are never included."
)


def export_evidence(
    conversation: ConversationView,
    path: str | os.PathLike[str],
    *,
    me: str,
    peer: str,
    safety_number: str,
    overwrite: bool = False,
    clock: Callable[[], float] = time.time,
) -> Path:
    """Write the conversation's text (never view-once items) to ``path``, atomically.

    The header names both petnames and the peer's safety number, so the record
    says whose key the words came from. Refuses an existing file unless
    ``overwrite`` (``FileExistsError``); the file is created with mode 0600.
    """
    target = Path(path).expanduser()
    # One line each, nothing a terminal acts on: a name cannot forge a header line.
    me, peer = safe_label(me, MAX_PETNAME_CHARS), safe_label(peer, MAX_PETNAME_CHARS)
    stamp = datetime.fromtimestamp(clock(), tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    header = [
        "p2pchat conversation export",
        f"exported: {stamp}",
        f"me: {me}",
        f"peer: {peer}",
        f"peer safety number: {format_safety_number(safety_number)}",
        EXPORT_NOTE,
        "",
    ]
    body = conversation.export_text(me=me, peer=peer)
    data = ("\n".join(header) + "\n" + body).encode("utf-8")
    write_atomic(target, data, 0o600, exclusive=not overwrite)
    return target
