"""What makes `p2pchat send` / `receive` quick door to door (issue 15, scripts/bench_door.py).

The code is shown while the photo is still being cleaned, and before the service stack
(the PAKE, the pairing, the session) and the WebRTC stack (aiortc, which pulls in PyAV)
are imported; the photo's image worker starts before even the mailbox client is
imported. A photo refused after the code was shown still ends the command with exit 5;
a file that cannot be sent, or a mailbox that cannot be reached, ends it before any
code. Real processes on loopback; no timing asserted: the order of what a process wrote
is read from one pipe carrying both its streams, what it had imported from a probe.
The receiver joins and saves without the decoders (Pillow, numpy, the sanitiser,
the content X-ray): only its image worker loads them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import free_tcp_port
from tests.e2e.procs import (
    finish,
    p2pchat_env,
    probed_receive,
    read_json_until,
    read_line,
    spawn,
    spawn_command,
    stop,
)

EXIT_PEER_LOST = 4
EXIT_INPUT_REJECTED = 5
# What `p2pchat send` must not have imported when its code is shown: the WebRTC stack,
# the PAKE and the handshakes, the service stack, the content check's libraries (they run
# in the worker), and the other subcommands with what they import.
HEAVY_AT_CODE = (
    "aiortc",
    "av",
    "aioice",
    "spake2",
    "cv2",
    "numpy",
    "textual",
    "p2pchat.core.handshake",
    "p2pchat.core.session",
    "p2pchat.service.chat_service",
    "p2pchat.service.pairing_flow",
    "p2pchat.service.events",
    "p2pchat.store.identity",
    "p2pchat.store.contacts",
    "p2pchat.cli.cmd_chat",
    "p2pchat.cli.cmd_tui",
    "p2pchat.cli.cmd_identity",
)
# ... and when the photo's image worker is started: not even the mailbox client.
HEAVY_AT_WORKER = ("websockets", "p2pchat.net.mailbox", *HEAVY_AT_CODE)
# Runs `p2pchat` with stdout wrapped: when the code line is written, it notes on stderr
# which of HEAVY_AT_CODE this process has imported so far; when an image worker is
# started, which of HEAVY_AT_WORKER.
PROBE = (
    f"HEAVY_AT_CODE = {HEAVY_AT_CODE!r}\nHEAVY_AT_WORKER = {HEAVY_AT_WORKER!r}\n"
    + """
import sys

from p2pchat.media import worker

def loaded(names):
    return ",".join(sorted(m for m in names if m in sys.modules))

class Probe:
    def __init__(self, inner):
        self.inner = inner
    def write(self, text):
        if '"event": "code"' in text:
            sys.stderr.write("loaded when the code was shown: %s\\n" % loaded(HEAVY_AT_CODE))
            sys.stderr.flush()
        return self.inner.write(text)
    def __getattr__(self, name):
        return getattr(self.inner, name)

spawn = worker.ImageWorker._spawn

async def noted_spawn(self, side):
    sys.stderr.write("loaded when a worker started: %s\\n" % loaded(HEAVY_AT_WORKER))
    sys.stderr.flush()
    await spawn(self, side)

worker.ImageWorker._spawn = noted_spawn
sys.stdout = Probe(sys.stdout)
from p2pchat.cli.main import main
sys.exit(main())
"""
)

# The same, for `p2pchat receive`: on "paired" and on "image" (the photo is saved),
# which decoders and image modules the chat process itself has imported.
DECODERS = (
    "PIL",
    "numpy",
    "cv2",
    "pillow_heif",
    "p2pchat.media.sanitize",
    "p2pchat.media.inspect",
    "p2pchat.media.content_fix",
    "p2pchat.media.content_scan",
)
RECEIVE_PROBE = """
import sys

class Probe:
    def __init__(self, inner):
        self.inner = inner
    def write(self, text):
        for event in ("paired", "image"):
            if '"event": "' + event + '"' in text:
                loaded = sorted(m for m in DECODERS if m in sys.modules)
                sys.stderr.write("loaded at " + event + ": " + ",".join(loaded) + "\\n")
                sys.stderr.flush()
        return self.inner.write(text)
    def __getattr__(self, name):
        return getattr(self.inner, name)

sys.stdout = Probe(sys.stdout)
from p2pchat.cli.main import main
sys.exit(main())
""".replace("DECODERS", repr(DECODERS))


def _slow_photo(path: Path) -> Path:
    """A 6 MP noise PNG: re-encoding it at full size takes a worker a second or more."""
    Image.effect_noise((3000, 2000), 120).convert("RGB").save(path, format="PNG")
    return path


def _receive(mailbox: str, config_dir: Path, code: str, out_dir: Path) -> subprocess.Popen[str]:
    out_dir.mkdir()
    return spawn(
        ["receive", "--mailbox", mailbox, "--loopback", "--json", "--out", str(out_dir)],
        p2pchat_env(config_dir, P2PCHAT_CODE=code),
    )


def test_send_shows_the_code_before_the_photo_is_cleaned(mailbox_process, config_dirs, tmp_path):
    photo = _slow_photo(tmp_path / "slow.png")
    env = p2pchat_env(config_dirs[0], P2PCHAT_TIMELINE="1")
    argv = ["send", "--mailbox", mailbox_process, "--loopback", "--json", "--original"]
    sender = subprocess.Popen(
        [sys.executable, "-m", "p2pchat", *argv, str(photo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe: the order of the lines is the order of events
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        lines: list[str] = []
        while not any("sender-cleaned" in line for line in lines):
            lines.append(read_line(sender, timeout=120))
        code_at = next(i for i, line in enumerate(lines) if line.startswith('{"event": "code"'))
        cleaned_at = next(i for i, line in enumerate(lines) if "sender-cleaned" in line)
        assert code_at < cleaned_at, lines
        code = json.loads(lines[code_at])["code"]
        receiver = _receive(mailbox_process, config_dirs[1], code, tmp_path / "received")
        image, _ = read_json_until(receiver, "image", timeout=120)
        assert Path(image["path"]).exists()
        assert finish(receiver, timeout=60)[0] == 0
        assert finish(sender, timeout=60)[0] == 0
    finally:
        stop(sender)


def test_the_code_is_shown_before_aiortc_is_imported(mailbox_process, config_dirs, tmp_path):
    argv = ["send", "--mailbox", mailbox_process, "--loopback", "--json", "--text", "hello"]
    sender = spawn_command([sys.executable, "-c", PROBE, *argv], p2pchat_env(config_dirs[0]))
    try:
        code = json.loads(read_line(sender, timeout=60))["code"]
        receiver = _receive(mailbox_process, config_dirs[1], code, tmp_path / "received")
        text, _ = read_json_until(receiver, "text", timeout=60)
        assert text["text"] == "hello"  # the link opened: aiortc was loaded when needed
        assert finish(receiver, timeout=60)[0] == 0
        status, _, err = finish(sender, timeout=60)
        assert status == 0, err
        assert "loaded when the code was shown: \n" in err, err
    finally:
        stop(sender)


def test_the_worker_starts_first_and_the_code_before_the_service_stack(
    mailbox_process, config_dirs, tmp_path
):
    photo = tmp_path / "photo.jpg"
    Image.effect_noise((640, 480), 60).convert("RGB").save(photo, format="JPEG")
    argv = ["send", "--mailbox", mailbox_process, "--loopback", "--json", str(photo)]
    sender = spawn_command([sys.executable, "-c", PROBE, *argv], p2pchat_env(config_dirs[0]))
    try:
        code = json.loads(read_line(sender, timeout=60))["code"]
        receiver = _receive(mailbox_process, config_dirs[1], code, tmp_path / "received")
        image, _ = read_json_until(receiver, "image", timeout=60)
        assert Path(image["path"]).exists()  # the rest of the stack loaded when it was needed
        assert finish(receiver, timeout=60)[0] == 0
        status, _, err = finish(sender, timeout=60)
        assert status == 0, err
        assert "loaded when a worker started: \n" in err, err
        assert "loaded when the code was shown: \n" in err, err
    finally:
        stop(sender)


def test_a_file_that_cannot_be_sent_is_refused_before_any_code(config_dirs, tmp_path):
    missing = tmp_path / "missing.jpg"
    unreachable = f"ws://127.0.0.1:{free_tcp_port()}/v1"
    sender = spawn(
        ["send", "--mailbox", unreachable, "--loopback", "--json", str(missing)],
        p2pchat_env(config_dirs[0]),
    )
    try:
        status, out, err = finish(sender, timeout=60)
        assert status == EXIT_INPUT_REJECTED, err
        assert "missing.jpg" in err and "mailbox" not in err, err
        assert out == "", out  # no code was handed out
    finally:
        stop(sender)


def test_an_unreachable_mailbox_ends_send_before_any_code(config_dirs, tmp_path):
    photo = tmp_path / "photo.jpg"  # its worker is still starting when the mailbox refuses
    Image.effect_noise((640, 480), 60).convert("RGB").save(photo, format="JPEG")
    unreachable = f"ws://127.0.0.1:{free_tcp_port()}/v1"
    sender = spawn(
        ["send", "--mailbox", unreachable, "--loopback", "--json", str(photo)],
        p2pchat_env(config_dirs[0]),
    )
    try:
        status, out, err = finish(sender, timeout=60)
        assert status == EXIT_PEER_LOST, err
        assert err.startswith("p2pchat send: Cannot reach the mailbox server at "), err
        assert unreachable in err and "Traceback" not in err, err
        assert out == "", out
    finally:
        stop(sender)


def test_a_photo_refused_after_the_code_was_shown_ends_send(mailbox_process, config_dirs, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a photo" * 100)
    sender = spawn(
        ["send", "--mailbox", mailbox_process, "--loopback", "--json", str(broken)],
        p2pchat_env(config_dirs[0]),
    )
    try:
        code = json.loads(read_line(sender, timeout=60))
        assert code["event"] == "code"
        status, _, err = finish(sender, timeout=60)
        assert status == EXIT_INPUT_REJECTED, err
        assert "broken.jpg" in err
    finally:
        stop(sender)


def test_quick_exit_runs_atexit_and_flushes_before_it_ends_the_process():
    script = (
        "import atexit, sys\n"
        "from p2pchat.cli import quick_exit\n"
        "atexit.register(lambda: sys.stdout.write(' and atexit ran'))\n"
        "assert quick_exit.finish(3) == 3  # not the entry point: the code comes back\n"
        "quick_exit.enable()\n"
        "sys.stdout.write('buffered output')  # a pipe: still in the buffer\n"
        "quick_exit.finish(7)\n"
        "sys.stdout.write(' never written')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (7, "buffered output and atexit ran"), done.stderr


def test_the_service_and_the_front_ends_import_without_the_webrtc_stack():
    """aiortc (with PyAV) costs about 0.2 s: only net/rtc_preload or an opened link loads it."""
    script = (
        "import sys\n"
        "import p2pchat.service, p2pchat.headless, p2pchat.cli.main, p2pchat.cli.cmd_transfer\n"
        "from p2pchat.net.ice import IceSettings, check_ice\n"
        "check_ice(IceSettings(stun_urls=('stun:127.0.0.1:3478',), relay_only=False))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aiortc', 'av', 'aioice'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_the_receiver_joins_and_saves_without_loading_a_decoder(
    mailbox_process, config_dirs, tmp_path
):
    """Pillow and the sanitiser cost the receiver about 30 ms before it could join; the
    photo is decoded and rebuilt in its worker only, so the chat process never needs them."""
    err = probed_receive(mailbox_process, config_dirs, tmp_path, RECEIVE_PROBE, (640, 480))
    assert "loaded at paired: \n" in err, err
    assert "loaded at image: \n" in err, err


def test_the_service_and_the_front_ends_import_without_a_decoder():
    """The chat process gets Pillow only where it shows a picture (the TUI), never to pair."""
    script = (
        "import sys\n"
        "import p2pchat.service, p2pchat.headless.session, p2pchat.cli.main\n"
        "import p2pchat.service.photos, p2pchat.service.incoming_images\n"
        "p2pchat.cli.main.build_parser()  # every subcommand's module\n"
        "from p2pchat.media.report import Finding\n"
        "from p2pchat.media.report_sentences import removed_summary\n"
        "removed_summary([Finding('gps', 'high', 'GPS', {})])  # a received photo's words\n"
        f"print(sorted(m for m in {DECODERS!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
