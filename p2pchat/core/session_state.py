"""The session state machine: its states, what triggers a change, and ONE transition table.

``next_state`` is the only way a ``Session`` changes state; a pair missing from
``TRANSITIONS`` is a local bug (doing something the state forbids).
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from p2pchat.core.errors import LocalProtocolError


class SessionState(Enum):
    """Where a session is in its life; only ``next_state`` moves it."""

    OPEN = "open"
    CLOSING = "closing"  # we sent bye; the peer may still talk
    PEER_CLOSED = "peer_closed"  # the peer sent bye; we may still say bye
    CLOSED = "closed"
    ERROR = "error"


class Trigger(Enum):
    """What can move a session from one state to another."""

    SEND_BYE = "send_bye"
    RECV_BYE = "recv_bye"
    FAIL = "fail"


_S = SessionState
_T = Trigger
# Every state change of the session, and nothing else, is in this table.
TRANSITIONS: Final[dict[tuple[SessionState, Trigger], SessionState]] = {
    (_S.OPEN, _T.SEND_BYE): _S.CLOSING,
    (_S.OPEN, _T.RECV_BYE): _S.PEER_CLOSED,
    (_S.CLOSING, _T.RECV_BYE): _S.CLOSED,
    (_S.PEER_CLOSED, _T.SEND_BYE): _S.CLOSED,
    (_S.OPEN, _T.FAIL): _S.ERROR,
    (_S.CLOSING, _T.FAIL): _S.ERROR,
    (_S.PEER_CLOSED, _T.FAIL): _S.ERROR,
    (_S.CLOSED, _T.FAIL): _S.ERROR,
}


def next_state(state: SessionState, trigger: Trigger) -> SessionState:
    """The state ``trigger`` leads to from ``state``; LocalProtocolError if it may not happen."""
    new_state = TRANSITIONS.get((state, trigger))
    if new_state is None:
        raise LocalProtocolError(f"session cannot {trigger.value} in state {state.value}")
    return new_state
