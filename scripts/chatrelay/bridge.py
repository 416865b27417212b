"""The bridge itself: starts both children, reads their events and passes texts and
re-encoded photos across, with every refusal told to the sender as a notice."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatrelay.sides import (
    CODE_ENV,
    EXIT_OK,
    EXIT_PAIRING_FAILED,
    EXIT_PEER_LOST,
    EXIT_USAGE,
    FORWARDED_MARK,
    MAX_EVENT_LINE,
    MAX_QUEUED_TEXTS,
    NOTICE_PREFIX,
    SIDES,
    Pending,
    Side,
    log,
    notice,
    p2pchat_command,
)


class Relay:
    def __init__(self, args: argparse.Namespace, spool: Path) -> None:
        self.args = args
        self.spool = spool
        self.sides: dict[str, Side] = {}
        self.queued: dict[str, list[str]] = {name: [] for name in SIDES}
        self.exit_code = EXIT_OK
        self.stopping = False
        self.codes_printed: dict[str, asyncio.Event] = {n: asyncio.Event() for n in SIDES}
        self.deadline: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ children
    def child_args(self, name: str) -> list[str]:
        a = self.args
        role = "--invite" if a.invite_both else "--join"
        argv = [*p2pchat_command(), "headless", role, "--label", a.label]
        if self.accepts_from(name):
            # Only a side whose photos go somewhere gets a save dir at all.
            argv += ["--save-dir", str(self.spool / name)]
        if a.mailbox:
            argv += ["--mailbox", a.mailbox]
        if a.loopback:
            argv.append("--loopback")
        for url in a.stun or ():
            argv += ["--stun", url]
        if a.no_stun:
            argv.append("--no-stun")
        if a.transit_relay:
            argv += ["--transit-relay", a.transit_relay]
        if a.no_transit:
            argv.append("--no-transit")
        if a.turn:
            argv += ["--turn", a.turn]
        if a.turn_user:
            argv += ["--turn-user", a.turn_user]
        argv += ["--turn-credential-env", a.turn_credential_env]
        argv += ["--turn-secret-env", a.turn_secret_env]
        if a.relay_only:
            argv.append("--relay-only")
        return argv

    def child_env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in (*CODE_ENV.values(), "P2PCHAT_CODE")}
        if not self.args.invite_both:
            env["P2PCHAT_CODE"] = os.environ[CODE_ENV[name]]
        return env

    def accepts_from(self, name: str) -> bool:
        """Whether what side ``name`` says is passed on (one-way relays drop the rest)."""
        return self.args.one_way != "a-to-b" or name == "a"

    async def start(self) -> None:
        for name in SIDES:
            if self.accepts_from(name):
                (self.spool / name).mkdir(mode=0o700)
            process = await asyncio.create_subprocess_exec(
                *self.child_args(name),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=None,  # the child's diagnostics carry no content either
                env=self.child_env(name),
                limit=MAX_EVENT_LINE,
                # Its own session: a Ctrl-C at the terminal reaches only the relay,
                # which then closes both sides cleanly (with a notice) instead of
                # having them die mid-sentence.
                start_new_session=True,
            )
            self.sides[name] = Side(name, process)
            log(f"{name}: started p2pchat headless (pid {process.pid})")

    async def run(self) -> int:
        await self.start()
        readers = [asyncio.ensure_future(self.read_events(s)) for s in self.sides.values()]
        await asyncio.gather(*readers)
        self.arm_deadline()  # both stdouts ended; the processes get --close-timeout to exit
        for side in self.sides.values():
            await side.process.wait()
        if self.deadline is not None:
            self.deadline.cancel()
        return self.exit_code

    def arm_deadline(self) -> None:
        """Kill whatever child is still running --close-timeout seconds from now (once)."""
        if self.deadline is None:
            timeout = self.args.close_timeout
            self.deadline = asyncio.get_running_loop().call_later(timeout, self.kill_all)

    def kill_all(self) -> None:
        for side in self.sides.values():
            if side.process.returncode is None:
                log(f"{side.name}: did not exit within {self.args.close_timeout:g} s; killed")
                side.kill()

    def other(self, name: str) -> Side:
        return self.sides["b" if name == "a" else "a"]

    # ------------------------------------------------------------------ events
    async def read_events(self, side: Side) -> None:
        stdout = side.process.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except ValueError:  # a line over MAX_EVENT_LINE: the child misbehaves
                log(f"{side.name}: oversized event line; stopping that side")
                break
            if not line:
                break
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                log(f"{side.name}: unreadable event line ignored")
                continue
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                await self.handle(side, event)
        side.finished = True
        self.codes_printed[side.name].set()  # never leave b's code waiting on a dead a
        for pending in side.pending:
            if pending.path is not None:
                pending.path.unlink(missing_ok=True)
        side.pending.clear()
        self.side_gone(side, "the other side left")

    async def handle(self, side: Side, event: dict[str, Any]) -> None:
        name = event["event"]
        handler: Callable[[Side, dict[str, Any]], Any] | None = getattr(self, f"on_{name}", None)
        if handler is None:
            if name != "progress":  # several per photo: noise
                log(f"{side.name}: {name}")  # delivered, transfer, ...: names only
            return
        result = handler(side, event)
        if asyncio.iscoroutine(result):
            await result

    async def on_code(self, side: Side, event: dict[str, Any]) -> None:
        # Print in a fixed order (a, then b) so that scripts can read the lines blindly.
        if side.name == "b":
            await self.codes_printed["a"].wait()
        print(f"{side.name}: {event.get('code', '')}", flush=True)
        self.codes_printed[side.name].set()
        log(f"{side.name}: invite code ready")

    def on_paired(self, side: Side, event: dict[str, Any]) -> None:
        side.paired = True
        log(
            f"{side.name}: paired ({event.get('connection', 'unknown')}); safety number "
            f"{event.get('safety_number', '?')} (compare it with that person)"
        )
        other = self.other(side.name)
        if not self.accepts_from(side.name):
            side.write(
                notice(
                    "this is a one-way relay: you receive what the other side sends; "
                    "your messages are not passed on."
                ),
            )
        if other.paired:
            for name in SIDES:
                self.sides[name].write(
                    notice("both sides are connected; messages are passed on."),
                )
            for name in SIDES:
                self.flush_queue(name)
        else:
            side.write(
                notice(
                    "you are connected to a relay, not directly to the other person. "
                    "Waiting for the other side to join."
                ),
            )

    def flush_queue(self, origin: str) -> None:
        target = self.other(origin)
        for text in self.queued[origin]:
            target.write({"cmd": "send_text", "text": text}, Pending("text", origin))
        if self.queued[origin]:
            log(f"{origin} -> {target.name}: {len(self.queued[origin])} waiting text(s) forwarded")
        self.queued[origin].clear()

    def on_text(self, side: Side, event: dict[str, Any]) -> None:
        text = event.get("text")
        if not isinstance(text, str):
            return
        if not self.accepts_from(side.name):
            side.write(notice("one-way relay: your message was not passed on."))
            log(f"{side.name}: text dropped (one-way)")
            return
        if len(text.encode("utf-8")) > self.args.max_bytes:
            side.write(
                notice(f"your message is over {self.args.max_bytes} bytes; not passed on."),
                None,
            )
            log(f"{side.name}: text refused (over --max-bytes)")
            return
        if text.lstrip().startswith(NOTICE_PREFIX.strip()):
            text = FORWARDED_MARK + text
        target = self.other(side.name)
        if not target.paired:
            if len(self.queued[side.name]) >= MAX_QUEUED_TEXTS:
                side.write(notice("the other side has not joined yet; message dropped."))
                log(f"{side.name}: text dropped (queue full)")
            else:
                self.queued[side.name].append(text)
                log(f"{side.name}: text waits for the other side")
            return
        target.write({"cmd": "send_text", "text": text}, Pending("text", side.name))
        log(f"{side.name} -> {target.name}: text forwarded")

    def on_image(self, side: Side, event: dict[str, Any]) -> None:
        raw_path = event.get("path")
        path = self.spooled(side.name, raw_path)
        if not self.accepts_from(side.name):
            if path is not None:
                path.unlink(missing_ok=True)
            side.write(notice("one-way relay: your photo was not passed on."))
            log(f"{side.name}: photo dropped (one-way)")
            return
        if path is None:
            log(f"{side.name}: photo event without a file in the spool; ignored")
            return
        try:
            size = path.stat().st_size
        except OSError:
            log(f"{side.name}: photo file vanished; ignored")
            return
        target = self.other(side.name)
        if size > self.args.max_bytes:
            path.unlink(missing_ok=True)
            side.write(
                notice(
                    f"your photo is {size} bytes after re-encoding; this relay passes on "
                    f"at most {self.args.max_bytes}. Not passed on."
                ),
                None,
            )
            log(f"{side.name}: photo refused (over --max-bytes)")
            return
        if not target.paired:
            path.unlink(missing_ok=True)
            side.write(
                notice("the other side has not joined yet; send the photo again later."), None
            )
            log(f"{side.name}: photo dropped (other side not paired)")
            return
        # The target child re-sanitises and re-encodes (send_image always does).
        target.write(
            {"cmd": "send_image", "path": str(path), "original": False, "view_once": False},
            Pending("image", side.name, path),
        )
        log(f"{side.name} -> {target.name}: photo forwarded")

    def spooled(self, name: str, raw_path: object) -> Path | None:
        """The event's path, only if it lies in this side's spool (never trust it blindly)."""
        if not isinstance(raw_path, str):
            return None
        path = Path(raw_path).resolve()
        spool = (self.spool / name).resolve()
        return path if path.parent == spool else None

    def on_view_once(self, side: Side, event: dict[str, Any]) -> None:
        side.write(
            notice("view-once photos are never passed on by a relay; it was discarded."), None
        )
        if self.accepts_from(side.name):
            self.other(side.name).write(
                notice("the other side sent a view-once photo; relays never pass those on."),
                None,
            )
        log(f"{side.name}: view-once placeholder; nothing forwarded")

    def on_report(self, side: Side, event: dict[str, Any]) -> None:
        # The child has read and re-encoded our spooled file: it can go now.
        photo = next((p for p in side.pending if p.kind == "image"), None)
        if photo is not None and photo.path is not None:
            photo.path.unlink(missing_ok=True)

    def on_sent(self, side: Side, event: dict[str, Any]) -> None:
        self.answered(side, photo=event.get("kind") == "image")

    def on_view_once_refused(self, side: Side, event: dict[str, Any]) -> None:
        self.answered(side, photo=True)

    def on_error(self, side: Side, event: dict[str, Any]) -> None:
        if event.get("fatal"):
            code = event.get("exit_code")
            if not side.paired:
                log(f"{side.name}: pairing failed (exit {code})")
                # A malformed code is a usage error (2); anything else, pairing failed (3).
                failed = code if code in (EXIT_USAGE, EXIT_PAIRING_FAILED) else EXIT_PAIRING_FAILED
                self.exit_code = self.exit_code or failed
                self.side_gone(side, "the other side could not connect")
            else:
                log(f"{side.name}: connection lost (exit {code})")
                self.exit_code = self.exit_code or EXIT_PEER_LOST
                self.side_gone(side, "the connection to the other side was lost")
            return
        pending = self.answered(side, photo="path" in event)
        log(f"{side.name}: a command was refused")
        if pending is not None and pending.origin is not None:
            what = "photo" if pending.kind == "image" else "message"
            self.sides[pending.origin].write(
                notice(f"your {what} could not be passed on: {event.get('message', '')}"),
                None,
            )

    def answered(self, side: Side, *, photo: bool) -> Pending | None:
        """The oldest command of the answer's sort: texts are answered in order, and so are
        photos, but a photo is cleaned in the background and may be answered after a later
        text (its answers name its path)."""
        pending = next((p for p in side.pending if (p.kind == "image") == photo), None)
        if pending is None:
            return None
        side.pending.remove(pending)
        if pending.path is not None:
            pending.path.unlink(missing_ok=True)
        return pending

    def on_rejected(self, side: Side, event: dict[str, Any]) -> None:
        side.write(notice("the relay could not read your photo; it was not passed on."))
        log(f"{side.name}: incoming photo rejected by the sanitiser")

    def on_peer_left(self, side: Side, event: dict[str, Any]) -> None:
        log(f"{side.name}: left")
        self.side_gone(side, "the other side left")

    def on_closed(self, side: Side, event: dict[str, Any]) -> None:
        log(f"{side.name}: closed")

    # ------------------------------------------------------------------ shutdown
    def side_gone(self, side: Side, message: str) -> None:
        """One side is over: tell the other (once) and close it too."""
        side.finished = True
        if self.stopping:
            return
        self.stopping = True
        other = self.other(side.name)
        if not other.finished:
            other.write(notice(f"{message}. This conversation is over."))
        for each in self.sides.values():
            each.close()
        self.arm_deadline()

    def stop(self) -> None:
        """SIGINT / SIGTERM: tell both people and close both sides; a second one kills them."""
        if self.stopping:
            log("stopping now")
            self.kill_all()
            return
        self.stopping = True
        log("stopping")
        for each in self.sides.values():
            each.write(notice("the relay is shutting down. This conversation is over."))
            each.close()
        self.arm_deadline()
