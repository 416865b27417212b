"""The ``timer`` frame: strict decoding and the session's handling of it."""

from __future__ import annotations

import msgpack
import pytest

from p2pchat.core import framing as fr
from p2pchat.core.errors import LocalProtocolError, RemoteProtocolError


@pytest.mark.parametrize("seconds", sorted(fr.TIMER_SECONDS))
def test_every_offered_setting_round_trips(seconds: int) -> None:
    assert fr.decode_frame(fr.encode_frame(fr.Timer(seconds))) == fr.Timer(seconds)


@pytest.mark.parametrize(
    "fields",
    [
        {"t": "timer", "seconds": 7},
        {"t": "timer", "seconds": -30},
        {"t": "timer", "seconds": 30.0},
        {"t": "timer", "seconds": True},
        {"t": "timer"},
        {"t": "timer", "seconds": 30, "extra": 1},
        {"t": "timer", "seconds": 10**12},
    ],
)
def test_anything_else_is_a_protocol_error(fields: dict[str, object]) -> None:
    with pytest.raises(RemoteProtocolError):
        fr.decode_frame(msgpack.packb(fields))


def test_we_never_send_an_invalid_timer() -> None:
    with pytest.raises(LocalProtocolError):
        fr.encode_frame(fr.Timer(42))
