#!/usr/bin/env python3
"""TUI responsiveness during a large photo transfer: event-loop lag and send -> visible.

``bench_tui(megabytes) -> dict`` (imported by scripts/bench.py) runs two processes
on 127.0.0.1, because a peer in the same process would share the event loop and
the GIL and so charge its own work to the app being measured:

- this process: the embedded MailboxServer and one real Textual app
  (``make_app`` with a real ``ChatService``, ``run_test()`` headless at 110x32,
  half-cell images), joined with the code the peer printed;
- a peer process (this file with ``--peer``): a bare ``ChatService`` without a UI.

Two rounds with the same noise PNG of about ``megabytes`` MB, sent at original size:

1. *app receives*: the peer sends; the app shows the photo. ``image_visible_s`` is
   from the peer's ``send_image`` call to the moment the app's message list holds
   the decoded image widget (both clocks are the system's CLOCK_MONOTONIC). It
   covers transfer, the receiver's isolated re-sanitising, decoding the preview
   and mounting it.
2. *app sends*: the app opens the real send dialog on the file, ticks "original
   size", presses Ctrl+S, and the peer receives it.

In each round a timer inside the running app re-arms itself every 10 ms and
records how late each firing is. ``lag_p99_ms`` / ``lag_max_ms`` are over both
rounds' samples; the per-round figures are under ``rounds``.

    .venv/bin/python scripts/bench_tui.py [--megabytes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench_common import noise_png, percentile  # noqa: E402

TICK_SECONDS = 0.010
SIZE = (110, 32)
DEADLINE = 300.0


class LagProbe:
    """A 10 ms timer inside the app that writes down how late it fires."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []
        self._due = 0.0
        self._running = False

    def start(self) -> None:
        self._running = True
        self._arm()

    def stop(self) -> list[float]:
        self._running = False
        return self.samples

    def _arm(self) -> None:
        self._due = time.monotonic() + TICK_SECONDS
        self.app.set_timer(TICK_SECONDS, self._fire)

    def _fire(self) -> None:
        if not self._running:
            return
        self.samples.append(max(0.0, time.monotonic() - self._due))
        self._arm()


# --------------------------------------------------------------------------- the peer
async def peer_main(role: str, url: str, image_path: str) -> None:
    """The headless other side. Writes JSON lines to stdout (a pipe to the bench)."""
    from p2pchat.service import ChatService, ServiceConfig
    from p2pchat.service import events as ev

    def say(**fields: Any) -> None:
        print(json.dumps(fields), flush=True)

    service = ChatService(ServiceConfig(mailbox_url=url, loopback=True, label="peer"))
    # The code goes to the bench process over a pipe, never to a terminal or a log.
    say(code=await service.invite())
    await service.wait_paired(60)
    try:
        if role == "send":
            prepared = await service.prepare_image(
                Path(image_path).read_bytes(), original_size=True
            )
            await asyncio.sleep(0.5)  # let the app settle after pairing before measuring
            say(sending=time.monotonic(), bytes=len(prepared.data))
            await service.send_image(prepared)
            await service.wait_delivered(DEADLINE)
            say(delivered=time.monotonic())
        else:
            while True:
                event = await asyncio.wait_for(service.next_event(), DEADLINE)
                if isinstance(event, ev.ImageReceived | ev.ImageRejected):
                    say(received=time.monotonic(), ok=isinstance(event, ev.ImageReceived))
                    break
        # Stay until the bench closes the app: leaving first would end its session early.
        await asyncio.wait_for(service.next_event(), 30)
    except TimeoutError:
        pass
    finally:
        await service.close()


# --------------------------------------------------------------------------- the app
async def until(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench_tui: never happened: {what}")
        await asyncio.sleep(0.01)


async def read_json(stream: asyncio.StreamReader, key: str) -> dict[str, Any]:
    while True:
        line = await asyncio.wait_for(stream.readline(), DEADLINE)
        if not line:
            raise RuntimeError(f"bench_tui: the peer ended before saying {key!r}")
        fields: dict[str, Any] = json.loads(line)
        if key in fields:
            return fields


async def one_round(url: str, image_path: Path, app_role: str) -> dict[str, Any]:
    from textual.widgets import Checkbox

    from p2pchat.service import ServiceConfig
    from p2pchat.tui.app import make_app
    from p2pchat.tui.screens.chat import ChatScreen
    from p2pchat.tui.screens.send_dialog import SendDialog
    from p2pchat.tui.widgets.message_list import ImageMessage

    peer_role = "send" if app_role == "receive" else "receive"
    peer = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--peer",
        peer_role,
        url,
        str(image_path),
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert peer.stdout is not None
    result: dict[str, Any] = {"app": app_role}
    try:
        code = (await read_json(peer.stdout, "code"))["code"]
        config = ServiceConfig(mailbox_url=url, loopback=True, label="app")
        # Started as `p2pchat join` with $P2PCHAT_CODE: the code is submitted at once.
        app = make_app(
            config,
            start="join",
            code=code,
            language="en",
            image_renderer="halfcell",
            my_label="app",
        )
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: isinstance(app.screen, ChatScreen), "paired", 60)
            chat = app.screen
            assert isinstance(chat, ChatScreen)
            probe = LagProbe(app)
            probe.start()
            if app_role == "receive":
                sending = await read_json(peer.stdout, "sending")
                result["bytes"] = sending["bytes"]

                def image_shown() -> bool:
                    return any(m.query("HalfcellImage") for m in chat.query(ImageMessage))

                await until(image_shown, "image visible in the app")
                result["image_visible_s"] = time.monotonic() - sending["sending"]
            else:
                chat.open_send_dialog(image_path)
                await until(lambda: isinstance(app.screen, SendDialog), "send dialog")
                dialog = app.screen
                assert isinstance(dialog, SendDialog)
                await until(lambda: dialog.prepared is not None, "first preview")
                dialog.query_one("#original-size", Checkbox).value = True
                await until(
                    lambda: (
                        dialog.prepared is not None
                        and not dialog.query_one("#send").disabled
                        and dialog.query_one("#original-size", Checkbox).value
                    ),
                    "original-size preview",
                )
                started = time.monotonic()
                await pilot.press("ctrl+s")
                received = await read_json(peer.stdout, "received")
                result["send_to_peer_received_s"] = received["received"] - started
            await pilot.pause(0.3)
            samples = probe.stop()
        result["lag_samples_ms"] = [s * 1000 for s in samples]
    finally:
        if peer.returncode is None:
            peer.terminate()
        await peer.wait()
    return result


async def run(megabytes: float) -> dict[str, Any]:
    from p2pchat.net.mailbox_server import MailboxServer

    server = MailboxServer(host="127.0.0.1", port=0)
    url = await server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            image_path = Path(tmp) / "noise.png"
            image_path.write_bytes(noise_png(megabytes, megabyte=1_000_000))
            rounds = [await one_round(url, image_path, role) for role in ("receive", "send")]
    finally:
        await server.stop()
    every_sample: list[float] = []
    for one in rounds:
        samples = one.pop("lag_samples_ms")
        every_sample += samples
        one["lag_p99_ms"] = percentile(samples, 99)
        one["lag_max_ms"] = max(samples) if samples else float("nan")
    summary: dict[str, Any] = {
        "lag_p99_ms": percentile(every_sample, 99),
        "lag_max_ms": max(every_sample) if every_sample else float("nan"),
        "lag_samples": len(every_sample),
        "image_visible_s": rounds[0].get("image_visible_s"),
        "bytes": rounds[0].get("bytes"),
        "method": "one Textual app (run_test, 110x32, halfcell) + headless peer process",
        "rounds": rounds,
    }
    return summary


def bench_tui(megabytes: float) -> dict[str, Any]:
    """Run both rounds on a fresh event loop (uvloop when installed, like the CLI)."""
    from p2pchat.net.loop import new_event_loop

    loop = new_event_loop()
    try:
        return loop.run_until_complete(run(megabytes))
    finally:
        loop.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--peer", nargs=3, metavar=("ROLE", "URL", "IMAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        from p2pchat.net.loop import new_event_loop

        loop = new_event_loop()
        try:
            loop.run_until_complete(peer_main(*args.peer))
        finally:
            loop.close()
        return 0
    print(json.dumps(bench_tui(args.megabytes), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
