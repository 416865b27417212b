"""The image worker's child sees no secrets: minimal environment, empty cwd, Landlock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2pchat.media.budget import WorkerBudget
from p2pchat.media.sandbox import child_environment, landlock_abi
from p2pchat.media.worker import WORKER_ARGV, ImageWorker
from tests.viewonce.conftest import until

ROOT = Path(__file__).resolve().parents[2]

# Runs the worker child's own preparation (imports, then sandbox.confine), then probes.
PROBE = """
import os, sys
sys.path.insert(0, sys.argv[1])
from p2pchat.media.worker_child import prepare
print("abi", prepare())
for path in sys.argv[2:]:
    try:
        with open(path, "rb") as handle:
            print("read", path, len(handle.read()))
    except OSError as error:
        print("denied", path, error.errno)
try:
    with open("made-here", "wb") as handle:
        print("created in cwd")
except OSError:
    print("cwd refuses files")
try:
    print("cwd", sorted(os.listdir(".")))
except OSError:
    print("cwd gone")
"""


async def test_the_worker_child_gets_no_passphrase_and_no_turn_secret(monkeypatch) -> None:
    monkeypatch.setenv("P2PCHAT_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("P2PCHAT_TURN_SECRET", "turn-shared-secret")
    monkeypatch.setenv("HOME", "/root/somewhere")
    budget = WorkerBudget()
    worker = await ImageWorker.start("receive", budget=budget)
    try:
        pid = worker.pid
        assert pid is not None
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        # The real child confines itself before it reads a photo: seen from outside.
        proc = Path(f"/proc/{pid}")
        await until(
            lambda: os.readlink(proc / "cwd").endswith("(deleted)"), "an empty, removed cwd"
        )
        if landlock_abi():
            await until(
                lambda: "NoNewPrivs:\t1" in (proc / "status").read_text(), "Landlock applied"
            )
    finally:
        await worker.close()
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "P2PCHAT_PASSPHRASE" not in names
    assert not any(name.startswith("P2PCHAT_") for name in names)
    assert "HOME" not in names
    assert names == set(child_environment())
    assert WORKER_ARGV[:3] == [sys.executable, "-I", "-c"]  # -I: no PYTHON* variables either


def test_the_confined_child_cannot_read_the_config_folder(tmp_path: Path) -> None:
    abi = landlock_abi()
    if not abi:
        pytest.skip("Landlock is not available on this kernel (Linux 5.13+ with landlock in lsm=)")
    config = tmp_path / "config"
    config.mkdir()
    key = config / "identity.key"
    key.write_bytes(b"secret key bytes")
    code = ROOT / "p2pchat" / "media" / "sanitize.py"
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(ROOT), str(key), str(code)],
        capture_output=True,
        text=True,
        env=child_environment(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"abi {abi}"
    assert f"denied {key} 13" in lines  # EACCES: Landlock, not a missing file
    assert any(line.startswith(f"read {code} ") for line in lines)  # code stays readable
    assert "cwd refuses files" in lines
    assert not (tmp_path / "made-here").exists()


def test_without_landlock_the_child_still_gets_an_empty_working_directory(tmp_path: Path) -> None:
    (tmp_path / "photo-of-the-user.jpg").write_bytes(b"not for the worker")
    script = PROBE.replace("print(\"abi\", prepare())", "from p2pchat.media import sandbox\n"
                           "sandbox._enter_empty_directory()")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, str(ROOT)],
        capture_output=True,
        text=True,
        env=child_environment(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cwd refuses files" in done.stdout.splitlines()
    assert list(tmp_path.iterdir()) == [tmp_path / "photo-of-the-user.jpg"]
