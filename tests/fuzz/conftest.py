"""Fuzz campaign plumbing: seed corpora, a byte mutator, and example counters.

``mutated(seeds)`` draws one seed and applies 1-8 random edits (bit flips, byte
sets, deletions, insertions, duplications, truncation, splices with another seed),
the classic coverage-blind mutations that find decoder crashes fast. Counters
record how many inputs each campaign really fed to the code under test; the totals
are printed in pytest's terminal summary ("fuzz examples run").

A crash is any exception that is not a ``P2PChatError``: ``assert_only_p2pchat_errors``
re-raises it with the offending input in hex, ready to become a regression test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from p2pchat.core.errors import P2PChatError

EXAMPLES: Counter[str] = Counter()


class FuzzCrash(AssertionError):
    """The code under test raised something other than a P2PChatError."""


def assert_only_p2pchat_errors(campaign: str, call: Callable[[], Any], data: object) -> Any:
    """Run ``call``; a P2PChatError is a clean refusal (returned), anything else a crash."""
    EXAMPLES[campaign] += 1
    try:
        return call()
    except P2PChatError as error:
        return error
    except Exception as error:
        shown = data.hex() if isinstance(data, bytes | bytearray) else repr(data)
        raise FuzzCrash(
            f"{campaign}: {type(error).__name__}: {error} for input {shown[:4000]}"
        ) from error


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_edits: int = 8) -> bytes:
    data = bytearray(draw(st.sampled_from(list(seeds))))
    for _ in range(draw(st.integers(1, max_edits))):
        operation = draw(
            st.sampled_from(["flip", "set", "delete", "insert", "dup", "truncate", "splice"])
        )
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if operation == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and data:
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0xC1, 0xDE, 0xDF]))
        elif operation == "delete" and data:
            del data[position : position + draw(st.integers(1, 16))]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "dup" and data:
            data[position:position] = data[position : position + draw(st.integers(1, 64))]
        elif operation == "truncate":
            del data[position:]
        elif operation == "splice":
            other = draw(st.sampled_from(list(seeds)))
            cut = draw(st.integers(0, len(other)))
            data[position:] = other[cut:]
    return bytes(data)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXAMPLES:
        total = sum(EXAMPLES.values())
        parts = ", ".join(f"{name} {count}" for name, count in sorted(EXAMPLES.items()))
        terminalreporter.write_line(f"fuzz examples run: {total} ({parts})")
