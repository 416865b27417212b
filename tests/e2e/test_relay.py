"""scripts/relay between two real `p2pchat headless` peers, all real processes on loopback.

Peer A and peer B are `p2pchat headless`; the relay is `scripts/relay`, which itself
runs two `p2pchat headless` children. Nothing is faked: real mailbox, real aiortc,
real exiftool.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from p2pchat.media.sanitize import SanitizePolicy, sanitize_image
from tests.e2e.procs import (
    CORPUS,
    ROOT,
    exiftool_tags,
    finish,
    p2pchat_env,
    spawn,
    spawn_command,
    stop,
)

RELAY = ROOT / "scripts" / "relay"
GPS_PHOTO = CORPUS / "nikon-gps-DSCN0010.jpg"
NOTICE = "[relay] "


class Lines:
    """Every stdout line of a process, read by a thread (nothing buffered is missed).

    procs.read_line selects on the pipe but reads through a buffered text wrapper, so
    a second line that arrived in the same chunk waits for more output that may never
    come; a reader thread does not have that problem.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.rest: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout: float = 60) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            stop(self.proc)
            raise AssertionError(f"no output in {timeout} s; stderr: {self.stderr()}") from None
        if line is None:
            self.lines.put(None)
            raise AssertionError(f"output ended; stderr: {self.stderr()}")
        return line

    def until(self, event: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """JSON events up to the first ``event``: that one, and all seen (it included)."""
        seen: list[dict[str, Any]] = []
        while True:
            record = json.loads(self.line(timeout))
            seen.append(record)
            if record.get("event") == event:
                return record, seen

    def text(self, wanted: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Events up to the text event whose text is ``wanted``."""
        seen: list[dict[str, Any]] = []
        while True:
            record, more = self.until("text", timeout)
            seen += more
            if record["text"] == wanted:
                return seen

    def remaining(self, timeout: float = 60) -> list[str]:
        """The lines left after the process ended."""
        self.proc.wait(timeout)
        lines = []
        while (line := self.lines.get(timeout=timeout)) is not None:
            lines.append(line)
        self.lines.put(None)
        return lines

    def stderr(self) -> str:
        if self.proc.poll() is None:
            stop(self.proc)
        return self.proc.stderr.read() if self.proc.stderr else ""


def spawn_relay(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return spawn_command([sys.executable, str(RELAY), *args], env, cwd)


def command(proc: subprocess.Popen[str], cmd: str, **fields: Any) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
    proc.stdin.flush()


def headless_peer(
    mailbox: str, config: Path, code: str, save_dir: Path | None = None
) -> subprocess.Popen[str]:
    args = ["headless", "--join", "--mailbox", mailbox, "--loopback"]
    if save_dir is not None:
        args += ["--save-dir", str(save_dir)]
    return spawn(args, p2pchat_env(config, P2PCHAT_CODE=code), stdin=subprocess.PIPE)


def exit_status(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Wait for the process (its stdout is read by a Lines thread); status and stderr."""
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise AssertionError(f"did not exit; stderr: {stderr_so_far(proc)}") from None
    return proc.returncode, proc.stderr.read() if proc.stderr else ""


def stderr_so_far(proc: subprocess.Popen[str]) -> str:
    """What stderr holds now, without waiting: a relay's children may keep it open."""
    if proc.stderr is None:
        return ""
    os.set_blocking(proc.stderr.fileno(), False)
    try:
        return proc.stderr.read() or ""
    except OSError:
        return ""


def child_pids(proc: subprocess.Popen[str]) -> list[int]:
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def relay_child(relay: subprocess.Popen[str], side: str) -> int:
    """The pid of the relay's `p2pchat headless` for ``side`` (its save dir ends in it)."""
    for pid in child_pids(relay):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"headless" in argv and argv[argv.index(b"--save-dir") + 1].endswith(
            f"/{side}".encode()
        ):
            return pid
    raise AssertionError(f"the relay has no child for side {side}")


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


BOTH_CONNECTED = NOTICE + "both sides are connected; messages are passed on."
OTHER_LEFT = NOTICE + "the other side left. This conversation is over."


def test_relay_forwards_text_and_reencoded_images_never_view_once(
    mailbox_process: str, tmp_path: Path
) -> None:
    relay_cwd, relay_config, relay_tmp = (tmp_path / n for n in ("cwd", "config", "tmp"))
    save_a, save_b, config_a, config_b = (tmp_path / n for n in ("sa", "sb", "ca", "cb"))
    for directory in (relay_cwd, relay_config, relay_tmp, save_a, save_b, config_a, config_b):
        directory.mkdir()
    relay = spawn_relay(
        ["--invite-both", "--mailbox", mailbox_process, "--loopback"],
        p2pchat_env(relay_config, TMPDIR=str(relay_tmp)),
        relay_cwd,
    )
    procs = [relay]
    try:
        relay_out = Lines(relay)
        code_a, code_b = relay_out.line(), relay_out.line()
        assert code_a.startswith("a: ") and code_b.startswith("b: "), (code_a, code_b)
        peer_a = headless_peer(mailbox_process, config_a, code_a[3:], save_a)
        peer_b = headless_peer(mailbox_process, config_b, code_b[3:], save_b)
        procs += [peer_a, peer_b]
        a, b = Lines(peer_a), Lines(peer_b)
        # Each side pairs with the relay and sees its label, not the far person.
        for peer in (a, b):
            paired, _ = peer.until("paired")
            assert paired["peer_label"] == "p2pchat relay"
            assert paired["peer_view_once"] is False
            peer.text(BOTH_CONNECTED)
        spools = [p for p in relay_tmp.iterdir() if p.name.startswith("p2pchat-relay-")]
        assert len(spools) == 1 and stat.S_IMODE(spools[0].stat().st_mode) == 0o700

        # Text both ways.
        command(peer_a, "send_text", text="secret-from-a 4417")
        b.text("secret-from-a 4417")
        command(peer_b, "send_text", text="secret-from-b 9021")
        a.text("secret-from-b 9021")

        # A GPS photo from A reaches B re-encoded, without metadata.
        command(peer_a, "send_image", path=str(GPS_PHOTO))
        sent, _ = a.until("sent")
        assert sent["kind"] == "image"
        image, _ = b.until("image")
        received = Path(image["path"])
        received_bytes = (received if received.is_absolute() else ROOT / received).read_bytes()
        tags = exiftool_tags(save_b / received.name)
        assert not [k for k in tags if "GPS" in k], tags
        assert not [k for k in tags if k.split(":")[-1] in ("Make", "Model", "MakerNote")], tags
        assert not [k for k in tags if k.startswith(("EXIF:", "XMP", "IFD0:", "IFD1:"))], tags
        a_sent = sanitize_image(GPS_PHOTO.read_bytes(), SanitizePolicy()).data
        assert len(a_sent) == sent["bytes"]  # this is what A put on the wire
        # What B would hold had the relay passed A's bytes on untouched:
        passed_through = sanitize_image(a_sent, SanitizePolicy(max_long_edge=None, side="receive"))
        assert received_bytes not in (GPS_PHOTO.read_bytes(), a_sent, passed_through.data)
        # The relay deleted its copy as soon as it was re-sent.
        assert files_under(relay_tmp) == []

        # A view-once photo: A is told the relay cannot honour it; B gets nothing.
        command(peer_a, "send_image", path=str(GPS_PHOTO), view_once=True)
        refused, _ = a.until("view_once_refused")
        assert "view-once" in refused["message"]
        command(peer_a, "send_text", text="after the view-once")
        before = b.text("after the view-once")
        assert not [e for e in before if e["event"] in ("image", "view_once", "transfer")]

        # A leaves: B gets the relay's notice, then the end; the relay exits 0.
        command(peer_a, "close")
        _, seen_b = b.until("peer_left")
        assert OTHER_LEFT in [e["text"] for e in seen_b if e["event"] == "text"]
        assert [json.loads(line) for line in b.remaining()] == [{"event": "closed"}]
        relay_status, relay_err = exit_status(relay)
        b_status, b_err = exit_status(peer_b)
        a_status, a_err = exit_status(peer_a)
    finally:
        for proc in procs:
            stop(proc)
    assert relay_status == 0, relay_err
    assert (a_status, b_status) == (0, 0), (a_err, b_err)
    # Nothing of the conversation lies on the relay's disk.
    assert list(relay_tmp.iterdir()) == []
    needles = [b"secret-from-a 4417", b"secret-from-b 9021", b"after the view-once"]
    needles += [received_bytes[1000:1256], a_sent[1000:1256], GPS_PHOTO.read_bytes()[4000:4256]]
    for path in files_under(relay_cwd, relay_config):
        content = path.read_bytes()
        assert not [n for n in needles if n in content], path
    # The operator's log names events, never content.
    assert "secret-from" not in relay_err and "after the view-once" not in relay_err
    assert "photo forwarded" in relay_err


def test_one_way_relay_joins_codes_and_enforces_max_bytes(
    mailbox_process: str, tmp_path: Path
) -> None:
    """Join mode (codes from A's and B's invites), one-way a-to-b, and --max-bytes."""
    config_a, config_b, relay_config = (tmp_path / n for n in ("ca", "cb", "cr"))
    for directory in (config_a, config_b, relay_config):
        directory.mkdir()
    invite = ["headless", "--invite", "--mailbox", mailbox_process, "--loopback"]
    peer_a = spawn(invite, p2pchat_env(config_a), stdin=subprocess.PIPE)
    peer_b = spawn(invite, p2pchat_env(config_b), stdin=subprocess.PIPE)
    procs = [peer_a, peer_b]
    try:
        a, b = Lines(peer_a), Lines(peer_b)
        code_a, _ = a.until("code")
        code_b, _ = b.until("code")
        relay = spawn_relay(
            [
                *("--one-way", "a-to-b", "--max-bytes", "2000"),
                *("--mailbox", mailbox_process, "--loopback"),
            ],
            p2pchat_env(relay_config, P2PCHAT_CODE_A=code_a["code"], P2PCHAT_CODE_B=code_b["code"]),
            tmp_path,
        )
        procs.append(relay)
        a.until("paired")
        b.until("paired")
        b.text(BOTH_CONNECTED)

        # B's messages do not go back to A; B is told.
        command(peer_b, "send_text", text="from the projector")
        b.text(NOTICE + "one-way relay: your message was not passed on.")
        # A's photo is over --max-bytes: refused, A is told; A's text goes through.
        command(peer_a, "send_image", path=str(GPS_PHOTO))
        seen_a: list[dict[str, Any]] = []
        while True:
            refusal, more = a.until("text")
            seen_a += more
            if refusal["text"].startswith(NOTICE + "your photo is"):
                break
        assert "at most 2000" in refusal["text"]
        assert "from the projector" not in json.dumps(seen_a)
        command(peer_a, "send_text", text="to the projector")
        before = b.text("to the projector")
        assert not [e for e in before if e["event"] in ("image", "transfer")]

        # B leaves: A is told, the relay exits 0.
        command(peer_b, "close")
        a.text(OTHER_LEFT)
        relay_status, relay_err = exit_status(relay)
        assert relay_status == 0, relay_err
        assert "from the projector" not in relay_err
    finally:
        for proc in procs:
            stop(proc)


def test_relay_without_codes_is_a_usage_error(tmp_path: Path) -> None:
    relay = spawn_relay([], p2pchat_env(tmp_path), tmp_path)
    status, out, err = finish(relay)
    assert status == 2
    assert "P2PCHAT_CODE_A" in err and out == ""


def test_relay_stops_the_other_side_when_one_cannot_pair(
    mailbox_process: str, tmp_path: Path
) -> None:
    """A malformed code for a: exit 2, and b's waiting child is not left behind."""
    relay = spawn_relay(
        ["--mailbox", mailbox_process, "--loopback"],
        p2pchat_env(
            tmp_path,
            P2PCHAT_CODE_A="7-not-a-code",
            P2PCHAT_CODE_B="7-aardvark-adroitness-absurd",
        ),
        tmp_path,
    )
    status, out, err = finish(relay)
    assert status == 2, err
    assert out == "" and "a: pairing failed" in err
    children = [int(pid) for pid in re.findall(r"started p2pchat headless \(pid (\d+)\)", err)]
    assert len(children) == 2
    for pid in children:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"child {pid} outlived the relay")


def test_relay_kills_a_side_that_does_not_exit_and_still_exits_0(
    mailbox_process: str, tmp_path: Path
) -> None:
    """A child stuck in its shutdown (here: stopped with SIGSTOP) cannot keep the relay up."""
    relay_cwd, relay_config, config_a, config_b = (tmp_path / n for n in ("w", "r", "a", "b"))
    for directory in (relay_cwd, relay_config, config_a, config_b):
        directory.mkdir()
    relay = spawn_relay(
        ["--invite-both", "--mailbox", mailbox_process, "--loopback", "--close-timeout", "2"],
        p2pchat_env(relay_config),
        relay_cwd,
    )
    procs = [relay]
    try:
        relay_out = Lines(relay)
        code_a, code_b = relay_out.line()[3:], relay_out.line()[3:]
        peer_a = headless_peer(mailbox_process, config_a, code_a)
        peer_b = headless_peer(mailbox_process, config_b, code_b)
        procs += [peer_a, peer_b]
        a, b = Lines(peer_a), Lines(peer_b)
        for peer in (a, b):
            peer.until("paired")
            peer.text(BOTH_CONNECTED)
        stuck = relay_child(relay, "a")
        os.kill(stuck, signal.SIGSTOP)
        command(peer_b, "close")
        relay_status, relay_err = exit_status(relay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(stuck, signal.SIGCONT)
        killed = (
            not Path(f"/proc/{stuck}").exists() or " Z " in Path(f"/proc/{stuck}/stat").read_text()
        )
    finally:
        for proc in procs:
            stop(proc)
    assert relay_status == 0, relay_err
    assert "a: did not exit within 2 s; killed" in relay_err, relay_err
    assert killed, "the stuck child outlived the relay"
