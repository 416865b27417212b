"""`p2pchat send` and `p2pchat receive` as two real processes over real aiortc on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.procs import (
    CORPUS,
    exiftool_tags,
    finish,
    p2pchat_env,
    read_json_until,
    read_line,
    spawn,
)

GPS_PHOTO = CORPUS / "nikon-gps-DSCN0010.jpg"
ALPHA_PNG = CORPUS / "png-text-alpha.png"
FACE_CARD = Path(__file__).parents[2] / "p2pchat" / "media" / "face_card.jpg"


def start_pair(
    mailbox: str,
    config_dirs: tuple[Path, Path],
    out_dir: Path,
    files: list[Path],
    *,
    text: str = "hello from the sender",
    json_mode: bool = False,
    code_override: str | None = None,
    extra_args: tuple[str, ...] = (),
):
    send_args = ["send", "--mailbox", mailbox, "--loopback", *extra_args, "--text", text]
    if json_mode:
        send_args.append("--json")
    sender = spawn(send_args + [str(f) for f in files], p2pchat_env(config_dirs[0]))
    first = read_line(sender, timeout=60)
    code = json.loads(first)["code"] if json_mode else first.removeprefix("code: ")
    assert code != first or json_mode, first
    receiver = spawn(
        ["receive", "--mailbox", mailbox, "--loopback", *extra_args, "--out", str(out_dir)]
        + (["--json"] if json_mode else []),
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=code_override or code),
    )
    return sender, receiver, code


def check_transfer(sender, receiver, out_dir: Path, expected_images: int) -> tuple[str, str]:
    s_code, s_out, s_err = finish(sender, timeout=90)
    r_code, r_out, r_err = finish(receiver, timeout=90)
    assert s_code == 0, s_err
    assert r_code == 0, r_err
    saved = sorted(p for p in out_dir.iterdir() if not p.name.startswith("."))
    assert len(saved) == expected_images, (saved, r_out, r_err)
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")], "partial file left"
    return s_out, r_out


def test_send_receive_text_and_images(mailbox_process, config_dirs, tmp_path):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    sender, receiver, _ = start_pair(mailbox_process, config_dirs, out_dir, [GPS_PHOTO, ALPHA_PNG])
    s_out, r_out = check_transfer(sender, receiver, out_dir, 2)
    assert "text: hello from the sender" in r_out
    # The sender says in plain words what it removed from the GPS photo.
    assert "GPS" in s_out
    saved = sorted(p for p in out_dir.iterdir())
    for path in saved:
        tags = exiftool_tags(path)
        assert not [k for k in tags if k.startswith("GPS") or ":GPS" in k], tags
        assert not any("Make" in k or "Model" in k for k in tags), tags
    # Names are ours, never the sender's; the PNG kept its alpha channel.
    assert all(p.name.startswith("p2pchat-") for p in saved)
    assert GPS_PHOTO.name not in " ".join(p.name for p in saved)
    pngs = [p for p in saved if p.suffix == ".png"]
    assert len(pngs) == 1 and Image.open(pngs[0]).mode == "RGBA"


def test_send_receive_json_lines(mailbox_process, config_dirs, tmp_path):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    sender, receiver, _ = start_pair(
        mailbox_process, config_dirs, out_dir, [GPS_PHOTO], json_mode=True
    )
    s_out, r_out = check_transfer(sender, receiver, out_dir, 1)
    s_events = [json.loads(line) for line in s_out.splitlines()]
    r_events = [json.loads(line) for line in r_out.splitlines()]
    reports = [e for e in s_events if e["event"] == "report"]
    assert reports and any("GPS" in r for r in reports[0]["removed"])
    assert s_events[-1]["event"] == "done"
    images = [e for e in r_events if e["event"] == "image"]
    assert len(images) == 1 and Path(images[0]["path"]).parent == out_dir
    texts = [e["text"] for e in r_events if e["event"] == "text"]
    assert texts == ["hello from the sender"]
    paired = [e for e in r_events if e["event"] == "paired"]
    assert len(paired[0]["safety_number"]) == 60


def test_send_tells_what_the_picture_shows_apart_from_what_was_removed(
    mailbox_process, config_dirs, tmp_path
):
    """The picture check of `send` follows each clean copy (it never holds one back) and is
    told as a "picture" event before "done"; "removed" holds only what was removed."""
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    sender, receiver, _ = start_pair(
        mailbox_process, config_dirs, out_dir, [FACE_CARD, GPS_PHOTO], json_mode=True
    )
    s_out, _ = check_transfer(sender, receiver, out_dir, 2)
    s_events = [json.loads(line) for line in s_out.splitlines()]
    names = [e["event"] for e in s_events]
    assert names[-1] == "done", names  # the code was the first line (start_pair read it)
    pictures = {e["file"]: e["picture"] for e in s_events if e["event"] == "picture"}
    assert set(pictures) == {FACE_CARD.name, GPS_PHOTO.name}, names
    assert any("face" in line for line in pictures[FACE_CARD.name]), pictures
    removed = {e["file"]: e["removed"] for e in s_events if e["event"] == "report"}
    assert not any("face" in line or "card" in line for line in removed[FACE_CARD.name])
    assert any("GPS" in line for line in removed[GPS_PHOTO.name])


def test_send_receive_through_real_wormhole_mailbox_server(
    real_mailbox_server, config_dirs, tmp_path
):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    sender, receiver, _ = start_pair(real_mailbox_server, config_dirs, out_dir, [ALPHA_PNG])
    _, r_out = check_transfer(sender, receiver, out_dir, 1)
    assert "text: hello from the sender" in r_out


def test_wrong_code_fails_both_sides_with_exit_3(mailbox_process, config_dirs, tmp_path):
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    sender = spawn(
        ["send", "--mailbox", mailbox_process, "--loopback", "--text", "secret"],
        p2pchat_env(config_dirs[0]),
    )
    code = read_line(sender, timeout=60).removeprefix("code: ")
    nameplate, *words = code.split("-")
    wrong_words = list(words)
    from p2pchat.core.wordlist import EVEN_WORDS, ODD_WORDS

    table = ODD_WORDS  # the 2nd word (index 1) comes from the odd list
    wrong_words[1] = next(w for w in table if w != words[1])
    wrong = "-".join([nameplate, *wrong_words])
    receiver = spawn(
        ["receive", "--mailbox", mailbox_process, "--loopback", "--out", str(out_dir)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=wrong),
    )
    s_code, _s_out, s_err = finish(sender, timeout=60)
    r_code, r_out, r_err = finish(receiver, timeout=60)
    assert s_code == 3, s_err
    assert r_code == 3, r_err
    assert "wrong" in s_err.lower() and "wrong" in r_err.lower()
    assert "secret" not in r_out
    assert list(out_dir.iterdir()) == []
    assert EVEN_WORDS  # both lists are used by codes
    # The nameplate was released: the mailbox no longer lists it.
    assert nameplate not in asyncio.run(listed_nameplates(mailbox_process))


async def listed_nameplates(url: str) -> list[str]:
    from p2pchat.core.handshake import APPID
    from p2pchat.net.mailbox import MailboxClient

    client = await MailboxClient.connect(url, APPID, timeout=10)
    try:
        return list(await client.list_nameplates())
    finally:
        await client.close("happy")


def test_receiver_killed_mid_transfer(mailbox_process, config_dirs, tmp_path):
    """The sender notices within 20 s (exit 4); no partial file is left."""
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    big = tmp_path / "big.png"
    noise = Image.effect_noise((2400, 2400), 120).convert("RGB")
    noise.save(big, format="PNG")  # ~ 10 MB of noise: long enough to kill mid-way
    sender = spawn(
        ["send", "--mailbox", mailbox_process, "--loopback", "--json", "--original", str(big)],
        p2pchat_env(config_dirs[0]),
    )
    code = json.loads(read_line(sender, timeout=60))["code"]
    receiver = spawn(
        ["receive", "--mailbox", mailbox_process, "--loopback", "--json", "--out", str(out_dir)],
        p2pchat_env(config_dirs[1], P2PCHAT_CODE=code),
    )
    read_json_until(sender, "progress", timeout=60)
    os.killpg(receiver.pid, signal.SIGKILL)
    receiver.wait()
    killed_at = time.monotonic()
    s_code, _, s_err = finish(sender, timeout=40)
    waited = time.monotonic() - killed_at
    assert s_code == 4, s_err
    assert waited < 25, f"sender took {waited:.1f} s to notice"  # the promise is 20 s
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("tamper_phase", ["offer", "version"])
def test_tampering_mailbox_makes_pairing_fail(
    tamper_phase, tampering_mailbox, config_dirs, tmp_path
):
    url = tampering_mailbox(tamper_phase)
    out_dir = tmp_path / "received"
    out_dir.mkdir()
    # The direct TCP path carries no SDP: a tampered offer is tested on the WebRTC path.
    extra = ("--no-lan",) if tamper_phase == "offer" else ()
    sender, receiver, _ = start_pair(
        url, config_dirs, out_dir, [ALPHA_PNG], text="never seen", extra_args=extra
    )
    s_code, _, s_err = finish(sender, timeout=60)
    r_code, r_out, r_err = finish(receiver, timeout=60)
    assert (s_code, r_code) == (3, 3), (s_err, r_err)
    assert "never seen" not in r_out
    assert list(out_dir.iterdir()) == []
