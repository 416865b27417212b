"""The application id p2pchat binds to on a magic-wormhole mailbox server.

Its own module (``core.handshake`` re-exports it) so that reaching the mailbox,
which needs only this id, does not import the handshakes and the PAKE behind them:
`p2pchat send` shows its code before those are loaded.
"""

from __future__ import annotations

from typing import Final

APPID: Final = "p2pchat/v1"
