"""`p2pchat receive` pairs under a code without loading what such a pairing never uses.

The receiver's CPU from its start to the open mailbox is on the door-to-door race's
critical path (scripts/bench_door.py), and it was almost all imports: the TOML parser
for the text catalogues, the contact book and both copy-paste handshakes among them.
A real `send` and `receive` on loopback; the receiver notes at exit what it had loaded.
A fresh interpreter (``-I``, the code root put first) checks the same at import level.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from p2pchat import i18n
from tests.e2e.procs import (
    p2pchat_env,
    probed_receive,
)

ROOT = Path(__file__).resolve().parents[2]
# Loaded by nothing that `receive` runs: the TOML parser (the catalogues are kept parsed,
# and no settings file is there to read), the walk over every subcommand module (only
# the main help lists them) and the help's line breaking, the contact book, both
# copy-paste handshakes, ctypes (only the worker's Landlock and a view-once photo on
# screen need it) and the picture check's boxes (only a sender's blurring).
NOT_FOR_RECEIVE = (
    "tomllib",
    "pkgutil",
    "p2pchat.i18n.linebreak",
    "ctypes",
    "p2pchat.media.content_boxes",
    "p2pchat.core.handshake.manual",
    "p2pchat.core.handshake.manual_pinned",
    "p2pchat.core.handshake.blobs",
    "p2pchat.store.contact_record",
    "p2pchat.store.contact_secrets",
    "p2pchat.store.contacts",
    "p2pchat.service.contact_guard",
)
EXIT_PROBE = f"""
import atexit, gc, sys

NOT_FOR_RECEIVE = {NOT_FOR_RECEIVE!r}

def noted():
    loaded = sorted(m for m in NOT_FOR_RECEIVE if m in sys.modules)
    sys.stderr.write("loaded at exit: " + ",".join(loaded) + "\\n")
    frozen = gc.get_freeze_count() > 0
    sys.stderr.write(f"collector at exit: on={{gc.isenabled()}} frozen={{frozen}}\\n")

atexit.register(noted)  # quick_exit.finish runs the atexit handlers
from p2pchat.cli.main import main
sys.exit(main())
"""


def _warm_catalogues() -> None:
    # A fresh checkout parses each catalogue once and keeps it; these tests are about
    # every run after that.
    for language in i18n.LANGUAGES:
        i18n.catalogue(language)


def test_a_receive_loads_neither_the_toml_parser_nor_the_contact_book(
    mailbox_process, config_dirs, tmp_path
):
    _warm_catalogues()
    err = probed_receive(mailbox_process, config_dirs, tmp_path, EXIT_PROBE, (320, 240))
    assert "loaded at exit: \n" in err, err
    # The collector was paused for the imports only, and their objects left out of it.
    assert "collector at exit: on=True frozen=True\n" in err, err


def _isolated(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run to its end in an isolated interpreter (``python -I``)."""
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _probed(argv: list[str], config_dir: Path) -> subprocess.CompletedProcess[str]:
    """``p2pchat ARGV`` run to its end under ``EXIT_PROBE``."""
    return subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=p2pchat_env(config_dir),
        check=False,
    )


def test_a_receive_that_stops_before_pairing_collects_again(tmp_path, config_dirs):
    """Refused before the service exists (the folder is missing): the collector is back on."""
    argv = ["receive", "--mailbox", "ws://127.0.0.1:9/v1", "--code", "7-apple-banana"]
    done = _probed([*argv, "--out", str(tmp_path / "missing")], config_dirs[1])
    assert done.returncode == 2, done.stderr
    assert "collector at exit: on=True " in done.stderr, done.stderr


def test_any_command_runs_with_the_collector_back_on(tmp_path, config_dirs):
    """Paused while the command line is imported and built, on again for the command."""
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (16, 16)).save(photo, format="JPEG")
    done = _probed(["inspect", str(photo)], config_dirs[0])
    assert done.returncode == 0, done.stderr
    assert "collector at exit: on=True frozen=True\n" in done.stderr, done.stderr


def test_the_collector_is_paused_only_when_p2pchat_is_the_process():
    """A caller of ``main`` (a test session, a script) keeps its collector untouched."""
    script = (
        f"import gc, sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from p2pchat.cli import quick_exit\n"
        "quick_exit.pause_collector()\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n"
        "quick_exit.enable()\n"
        "quick_exit.pause_collector()\n"
        "print(gc.isenabled())\n"
        "quick_exit.resume_collector()\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "gc.unfreeze()\n"
        "quick_exit.resume_collector()  # once only\n"
        "print(gc.get_freeze_count())\n"
    )
    done = _isolated(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == ["True 0", "False", "True True", "0"], done.stdout


def test_what_receive_imports_to_pair_leaves_them_out():
    """The modules `receive` imports, and a texts lookup, in an isolated interpreter."""
    _warm_catalogues()
    script = (
        f"import json, sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from p2pchat.cli.main import build_parser\n"
        "build_parser('receive')\n"
        "import p2pchat.cli.cmd_transfer, p2pchat.service.photos\n"
        "import p2pchat.service.chat_service, p2pchat.service.profile, p2pchat.net.loop\n"
        "from p2pchat.i18n import t\n"
        "t('cli.transfer.done')\n"
        f"print(json.dumps(sorted(m for m in {NOT_FOR_RECEIVE!r} if m in sys.modules)))\n"
    )
    done = _isolated(script)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], done.stdout
