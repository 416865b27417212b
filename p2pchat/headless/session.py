"""One headless conversation: JSON commands drive a ``ChatSession``, its events go out as JSON.

Photos are prepared one after another in the background (the photo lane), so a
slow or hostile photo never holds up a text or a close; received photos are
saved with ``service.photos`` when a folder was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from p2pchat.core.errors import P2PChatError
from p2pchat.core.exit_status import EXIT_OUTPUT_FAILED, EXIT_PAIRING_FAILED, EXIT_PEER_LOST
from p2pchat.headless.streams import JsonLinesWriter, UndecodableLine
from p2pchat.service import events as ev
from p2pchat.service.api import ChatSession
from p2pchat.service.photos import CONTENT_CATEGORIES, ContentFixes, SaveFailed, save_received

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 1024 * 1024
PROGRESS_INTERVAL = 0.25


class HeadlessSession:
    """Drives one ChatService from JSON commands and reports its events as JSON."""

    def __init__(
        self, service: ChatSession, out: JsonLinesWriter, save_dir: Path | None = None
    ) -> None:
        self.service = service
        self.out = out
        self.save_dir = save_dir
        self._saved = 0
        self._save_failures = 0
        self._last_progress: dict[str, float] = {}
        self.exit_code = 0
        # The photo lane: photos are cleaned one after another in the background, so a slow
        # (or hostile) photo never holds up a text or a close.
        self._images: asyncio.Future[None] | None = None

    async def run(self, commands: asyncio.Queue[str | None]) -> int:
        events_task = asyncio.ensure_future(self._pump_events())
        try:
            await self.service.wait_paired()
        except P2PChatError:
            # Reported as a fatal error event by the event pump, which then ends.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(events_task, 5)
            events_task.cancel()
            return self.exit_code or EXIT_PAIRING_FAILED
        commands_task = asyncio.ensure_future(self._pump_commands(commands))
        broken_task = asyncio.ensure_future(self.out.broken.wait())
        done, _ = await asyncio.wait(
            {events_task, commands_task, broken_task}, return_when=asyncio.FIRST_COMPLETED
        )
        if events_task not in done:
            eof = commands_task in done and commands_task.result() == "eof"
            if eof and self._images is not None:
                await asyncio.wait([self._images])  # the end of input sends what it asked for
            await self.service.close()  # "close" does not wait: it stops a photo being cleaned
            if self._images is not None:
                await asyncio.wait([self._images])  # its "not sent" error comes before "closed"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(events_task, 5)
        commands_task.cancel()
        events_task.cancel()
        if self._images is not None:
            self._images.cancel()
        broken_task.cancel()
        if self.out.broken.is_set():
            return EXIT_OUTPUT_FAILED
        if self._save_failures and not self.exit_code:
            return EXIT_OUTPUT_FAILED
        return self.exit_code

    async def _pump_commands(self, commands: asyncio.Queue[str | None]) -> str:
        while True:
            line = await commands.get()
            if line is None:
                return "eof"  # EOF: close like a "close" command, once the photos are sent
            if isinstance(line, UndecodableLine):
                self._error(f"bad command: {line.reason}")
                continue
            line = line.strip()
            if not line:
                continue
            if await self.handle_command(line) == "close":
                return "close"

    async def handle_command(self, line: str) -> str | None:
        if len(line) > MAX_COMMAND_BYTES:
            self._error("command too long")
            return None
        try:
            command = json.loads(line)
        except json.JSONDecodeError as error:
            self._error(f"not JSON: {error.msg} at column {error.colno}")
            return None
        except RecursionError:
            self._error("not JSON: nested too deeply")
            return None
        if not isinstance(command, dict) or not isinstance(command.get("cmd"), str):
            self._error('a command is a JSON object with a "cmd" string')
            return None
        name = command["cmd"]
        try:
            if name == "send_text":
                await self._send_text(command)
            elif name == "send_image":
                self._images = asyncio.ensure_future(
                    self._send_image_in_turn(self._images, command)
                )
            elif name == "close":
                return "close"
            else:
                self._error(f"unknown command {name!r} (send_text, send_image, close)")
        except P2PChatError as error:
            self._error(str(error))
        return str(name)

    async def _send_text(self, command: dict[str, Any]) -> None:
        text = command.get("text")
        if not isinstance(text, str):
            self._error('send_text needs "text" (a string)')
            return
        message_id = await self.service.send_text(text)
        self.out.write("sent", message_id=message_id, kind="text")

    async def _send_image_in_turn(
        self, previous: asyncio.Future[None] | None, command: dict[str, Any]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # in order; the previous one reported its own outcome
        try:
            await self._send_image(command)
        except P2PChatError as error:
            self._image_error(command, str(error))

    def _image_error(self, command: dict[str, Any], message: str) -> None:
        """An error about a photo names its path: it may come after later commands' answers."""
        path = command.get("path")
        if isinstance(path, str):
            self.out.write("error", message=message, fatal=False, path=path)
        else:
            self._error(message)

    async def _send_image(self, command: dict[str, Any]) -> None:
        path = command.get("path")
        view_once = command.get("view_once", False)
        original = command.get("original", False)
        if (
            not isinstance(path, str)
            or not isinstance(view_once, bool)
            or not isinstance(original, bool)
        ):
            self._image_error(
                command, 'send_image needs "path" (string), optional "view_once"/"original" (bool)'
            )
            return
        fixes = _content_fixes(command)
        if isinstance(fixes, str):
            self._error(fixes)
            return
        content, max_side = fixes
        # The service reads the file (its size checked first): an ImageRejected names the path.
        prepared = await self.service.prepare_photo(
            path, original_size=original, fixes=content, max_side=max_side
        )
        findings = prepared.report.findings
        removed = [f.message for f in findings if f.category not in CONTENT_CATEGORIES]
        # What the picture shows (and what was blurred) stays here: never sent to the peer.
        picture = [f.message for f in findings if f.category in CONTENT_CATEGORIES]
        self.out.write("report", path=path, removed=removed, picture=picture)
        caps = self.service.peer_capabilities
        if view_once and caps is not None and not caps.view_once:
            self.out.write(
                "view_once_refused",
                path=path,
                message="the peer cannot honour view-once; not sent",
            )
            return
        message_id = await self.service.send_image(prepared, view_once=view_once)
        self.out.write(
            "sent",
            message_id=message_id,
            kind="image",
            bytes=len(prepared.data),
            width=prepared.width,
            height=prepared.height,
        )

    def _error(self, message: str, fatal: bool = False, **fields: Any) -> None:
        self.out.write("error", message=message, fatal=fatal, **fields)

    async def _pump_events(self) -> None:
        async for event in self.service.events():
            if isinstance(event, ev.Closed) and self.service.undelivered:
                # Before "closed": the last thing a script reads says what was lost.
                self._error(
                    f"{self.service.undelivered} message(s) or photo(s) were sent but "
                    "never confirmed by the peer",
                    exit_code=EXIT_PEER_LOST,
                )
                self.exit_code = self.exit_code or EXIT_PEER_LOST
            try:
                self.report(event)
            except Exception as error:  # a bug in reporting one event must not end the pump
                log.exception("reporting an event failed")
                self._error(f"could not report a {event.kind} event: {error}")
            if isinstance(event, ev.Failed):
                self.exit_code = event.exit_code

    def report(self, event: ev.ServiceEvent) -> None:
        if isinstance(event, ev.ImageReceived):
            self._report_image(event)
        elif isinstance(event, ev.TextReceived):
            self.out.write(**ev.event_to_json(event))
            if not self.out.broken.is_set():  # "delivered" once a script could read it
                self.service.acknowledge(event.message_id)
        elif isinstance(event, ev.TransferProgress):
            now = time.monotonic()
            last = self._last_progress.get(event.message_id, 0.0)
            if now - last >= PROGRESS_INTERVAL or event.done_bytes == event.total_bytes:
                self._last_progress[event.message_id] = now
                self.out.write(**ev.event_to_json(event))
        elif isinstance(event, ev.Failed):
            self.out.write("error", message=event.message, fatal=True, exit_code=event.exit_code)
        elif isinstance(event, ev.ConnectionChanged | ev.PeerTyping | ev.RoundTrip):
            pass  # noise for scripts
        else:
            self.out.write(**ev.event_to_json(event))

    def _report_image(self, event: ev.ImageReceived) -> None:
        if event.view_once or not event.data:
            self.out.write(
                "view_once",
                message_id=event.message_id,
                message="a view-once photo arrived; scripts never receive its contents",
            )
            return
        fields: dict[str, Any] = {
            "message_id": event.message_id,
            "mime": event.mime,
            "width": event.width,
            "height": event.height,
            "bytes": len(event.data),
            "removed": list(event.removed),
        }
        if self.save_dir is not None:
            self._saved += 1
            try:
                path = save_received(self.save_dir, event.data, event.mime, self._saved)
            except SaveFailed as error:
                self._save_failures += 1
                self.service.refuse_image(event.message_id)
                self._error(
                    f"photo {event.message_id} was not kept: {error}",
                    message_id=event.message_id,
                    exit_code=EXIT_OUTPUT_FAILED,
                )
                return
            fields["path"] = str(path)
            self.service.acknowledge(event.message_id)
        self.out.write("image", **fields)


def _content_fixes(command: dict[str, Any]) -> tuple[ContentFixes, int | None] | str:
    """``send_image``'s blur_faces, blur_text, blur_boxes and max_side, or what is wrong."""
    max_side = command.get("max_side")
    if max_side is not None and (
        not isinstance(max_side, int) or isinstance(max_side, bool) or not 16 <= max_side <= 65535
    ):
        return 'send_image "max_side" is a whole number of pixels from 16 to 65535'
    try:
        fixes = ContentFixes.from_dict(
            {
                "blur_faces": command.get("blur_faces", False),
                "blur_text": command.get("blur_text", False),
                "boxes": command.get("blur_boxes", []),
            }
        )
    except (ValueError, TypeError) as error:
        return f"send_image: {error} (blur_boxes: [[x, y, w, h], ...] as fractions)"
    return fixes, max_side
