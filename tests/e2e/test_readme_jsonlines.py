"""Every JSON-lines example in "Scripting p2pchat" runs against a live headless pair.

The examples come from README.md when it has a "Scripting p2pchat" section, else
from docs/scripting.md. An example is a fenced ```jsonl block: lines with "cmd"
are written to your process's stdin, lines with "event" are the events it must
write, in that order (other events may come in between). HTML comments just above
the block, ``<!-- peer: {"cmd": ...} -->``, are commands the other side sends
first. Both sides run in a folder holding ``photo.jpg`` (a photo with GPS data);
you run as ``headless --invite --save-dir received``, the peer as
``headless --join --label alice`` reading the code from its first stdin line.

An expected event must have exactly the documented keys; values must be equal,
except for keys that differ on every run (ids, codes, clocks, keys), which need
only the same JSON type. ``removed`` is compared whole: the photo is always the same,
so the documented list is exactly what headless prints; ``sent_at`` must be a
wall-clock time like the ones a sender puts there.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.procs import CORPUS, ROOT, p2pchat_env, spawn, stop
from tests.e2e.test_relay import Lines, exit_status

SECTION = "Scripting p2pchat"
VARIABLE_KEYS = frozenset(
    {
        "message_id",
        "code",
        "safety_number",
        "peer_fingerprint",
        "sent_at",
        "expires_in",
        "bytes",
        "done_bytes",
        "bytes_per_second",
        "path",
    }
)
DIRECTIVE = re.compile(r"<!--\s*peer:\s*(\{.*\})\s*-->")
FENCE = re.compile(r"^```jsonl\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Example:
    line: int  # in the source file, for failure messages
    peer_commands: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def ends_session(self) -> bool:
        return any(step.get("event") == "closed" for step in self.steps)


def scripting_text(root: Path = ROOT) -> tuple[str, str]:
    """The section's markdown and where it came from."""
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    match = re.search(rf"^(#+) {re.escape(SECTION)}\s*$", text, re.MULTILINE)
    if match:
        level = len(match.group(1))
        rest = text[match.end() :]
        end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
        return rest[: end.start() if end else len(rest)], "README.md"
    return (root / "docs" / "scripting.md").read_text(encoding="utf-8"), "docs/scripting.md"


def parse_examples(markdown: str) -> list[Example]:
    examples = []
    for fence in FENCE.finditer(markdown):
        before = markdown[: fence.start()].rstrip().splitlines()
        example = Example(line=markdown.count("\n", 0, fence.start()) + 1)
        directives: list[dict[str, Any]] = []
        while before and (found := DIRECTIVE.fullmatch(before[-1].strip())):
            directives.insert(0, json.loads(found.group(1)))
            before.pop()
        example.peer_commands = directives
        for raw in fence.group(1).splitlines():
            if raw.strip():
                step = json.loads(raw)
                assert "cmd" in step or "event" in step, f"line {example.line}: {raw}"
                example.steps.append(step)
        examples.append(example)
    return examples


def mismatch(expected: dict[str, Any], actual: dict[str, Any]) -> str | None:
    """Why ``actual`` is not the documented ``expected`` event (None if it is)."""
    if set(expected) != set(actual):
        return f"keys differ: documented {sorted(expected)}, actual {sorted(actual)}"
    for key, want in expected.items():
        got = actual[key]
        if key == "removed":
            # The whole list, in order: a shortened example misled readers (issue 16 §7).
            if got != want:
                return f"removed: documented {want!r}, got {got!r}"
        elif key == "sent_at" and not (isinstance(want, float) and want > 1e9):
            return f"sent_at: documented {want!r}, not a wall-clock time like the ones sent"
        elif key in VARIABLE_KEYS:
            numbers = (int, float)
            same = (
                isinstance(got, numbers) if isinstance(want, numbers) else type(got) is type(want)
            )
            if not same:
                return f"{key}: documented a {type(want).__name__}, got {got!r}"
        elif got != want:
            return f"{key}: documented {want!r}, got {got!r}"
    return None


class Pair:
    """You (inviter, --save-dir received) and alice (joiner), in one folder."""

    def __init__(self, workdir: Path, mailbox: str) -> None:
        self.workdir = workdir
        common = ["--mailbox", mailbox, "--loopback"]
        self.you = spawn(
            ["headless", "--invite", "--save-dir", "received", *common],
            p2pchat_env(workdir / "config-you"),
            cwd=workdir,
            stdin=subprocess.PIPE,
        )
        self.you_out = Lines(self.you)
        code, _ = self.you_out.until("code")
        self.peer = spawn(
            ["headless", "--join", "--label", "alice", *common],
            p2pchat_env(workdir / "config-alice"),
            cwd=workdir,
            stdin=subprocess.PIPE,
        )
        self.peer_out = Lines(self.peer)
        self.send(self.peer, {"code": code["code"]})  # the code as the first stdin line
        self.peer_out.until("paired")
        # The `code` event was consumed above: replay it for the pairing example.
        self.replay: list[dict[str, Any]] = [code]

    @staticmethod
    def send(proc: subprocess.Popen[str], command: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(command) + "\n")
        proc.stdin.flush()

    def next_event(self) -> dict[str, Any]:
        if self.replay:
            return self.replay.pop(0)
        return dict(json.loads(self.you_out.line(timeout=60)))

    def expect(self, wanted: dict[str, Any], where: str) -> None:
        skipped = []
        while True:
            event = self.next_event()
            if event.get("event") == wanted["event"]:
                problem = mismatch(wanted, event)
                assert problem is None, f"{where}: {problem}\n  documented {wanted}\n  got {event}"
                return
            skipped.append(event["event"])
            assert len(skipped) < 200, f"{where}: no {wanted['event']!r}; saw {skipped}"

    def finish(self) -> None:
        for proc in (self.you, self.peer):
            status, err = exit_status(proc)
            assert status == 0, err

    def stop(self) -> None:
        for proc in (self.you, self.peer):
            stop(proc)


def test_the_readme_section_wins_over_docs_and_ends_at_the_next_heading(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "scripting.md").write_text("## Scripting p2pchat\nfrom docs\n")
    assert scripting_text(tmp_path) == ("## Scripting p2pchat\nfrom docs\n", "docs/scripting.md")
    (tmp_path / "README.md").write_text(
        "# p2pchat\n## Scripting p2pchat\nfrom the README\n### Events\nmore\n## Tests\nnot this\n"
    )
    text, source = scripting_text(tmp_path)
    assert source == "README.md"
    assert "from the README" in text and "### Events" in text
    assert "not this" not in text and "from docs" not in text


def test_documented_examples_are_found() -> None:
    markdown, source = scripting_text()
    examples = parse_examples(markdown)
    assert len(examples) >= 6, f"{source}: only {len(examples)} jsonl examples"
    documented = {step["event"] for e in examples for step in e.steps if "event" in step}
    for name in ("code", "paired", "text", "sent", "delivered", "report", "image", "closed"):
        assert name in documented, f"{source}: no example shows the {name!r} event"
    commands = {step["cmd"] for e in examples for step in e.steps if "cmd" in step}
    assert {"send_text", "send_image", "close"} <= commands


def test_documented_examples_run_against_a_live_pair(mailbox_process: str, tmp_path: Path) -> None:
    markdown, source = scripting_text()
    examples = parse_examples(markdown)
    if not examples:
        pytest.fail(f"{source} has no jsonl examples")
    shutil.copyfile(CORPUS / "nikon-gps-DSCN0010.jpg", tmp_path / "photo.jpg")
    (tmp_path / "received").mkdir()
    pair: Pair | None = None
    try:
        for example in examples:
            where = f"{source} example at line {example.line}"
            if pair is None:
                pair = Pair(tmp_path, mailbox_process)
            for command in example.peer_commands:
                pair.send(pair.peer, command)
            for step in example.steps:
                if "cmd" in step:
                    pair.send(pair.you, step)
                else:
                    pair.expect(step, where)
            if example.ends_session():
                pair.finish()
                pair = None
            else:
                pair.replay.clear()  # later examples never see the pairing events again
    finally:
        if pair is not None:
            pair.stop()


def test_every_event_headless_prints_is_in_the_events_table() -> None:
    """A new event kind must be documented (``opened`` and ``timer`` were missing)."""
    from p2pchat.service import events as ev

    text, _ = scripting_text()
    table = text.split("### Events", 1)[1].split("###", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE))
    kinds = {
        cls.kind
        for cls in vars(ev).values()
        if isinstance(cls, type) and issubclass(cls, ev.ServiceEvent) and cls is not ev.ServiceEvent
    }
    not_for_scripts = {"typing", "rtt", "connection"}  # headless drops these as noise
    headless_own = {"report", "sent", "view_once"}
    assert kinds - not_for_scripts - documented == set()
    assert headless_own <= documented
