"""Smoke test of a view-once photo between two real ``p2pchat`` binaries in tmux.

Alice (``invite``) and Bob (``join``) run with ``--loopback --images halfcell``
against a ``p2pchat mailbox --port 0`` process, each with its own
``P2PCHAT_CONFIG_DIR`` and ``TMPDIR``; Bob starts in an empty directory. Alice
sends the corpus GPS photo with ``/send`` and ticks *View once* in the send
dialog with the keyboard. Everything is judged from the screens, as a person
would: Bob's chat shows only the sealed line (no half-cell pixels), Enter opens
it full-pane with a countdown, and once the countdown has run out no pixel is
left anywhere on his screen, the line reads "viewed", Enter does not bring it
back, and Alice's message reads "viewed". Afterwards no file holding a JPEG or
PNG appeared in Bob's config dir, temp dir or working directory.

Waits poll the screen with deadlines; nothing is timed. Both screens (with
scrollback and colours) are saved into the test's tmp dir when anything fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from . import test_tmux_smoke as smoke
from .tmux import Pane, TmuxError, TmuxServer

pytestmark = smoke.pytestmark

# The mailbox process fixture of the first smoke test, shared rather than copied.
mailbox_url = smoke.mailbox_url

# The send dialog keeps its preview at 16 rows; below ~40 rows its check boxes
# are pushed off screen (docs/tui.md, known limits), so Alice gets a tall pane.
ALICE_SIZE = (110, 50)
BOB_SIZE = (110, 36)
HALF_BLOCKS = frozenset(smoke.HALF_BLOCKS)
# Textual draws a vertical scrollbar's thumb ends with block characters ('▄'
# among them) in the two rightmost columns; those cells are not pixels.
SCROLLBAR_COLUMNS = 2
# A half-cell picture fills whole rows with blocks; a row with this many is pixels.
PIXEL_ROW_MIN_BLOCKS = 8
MAX_FOCUS_STEPS = 12
FOCUS_SETTLE_SECONDS = 1.5
COUNTDOWN_RE = re.compile(r"closes in (\d+) s")
VIEWED_RE = re.compile(r"\bviewed\b")
SEALED_TEXT = "View-once photo, sealed"
VIEWED_TEXT = "View-once photo: viewed"
REFUSAL_TEXT = "can no longer be opened"
VIEW_ONCE_LABEL = "View once (the other person"
VIEW_ONCE_LIMITS = "View once limits copies"
# The app's default viewing time (there is no key or read setting to shorten it).
VIEW_SECONDS = 10
EXPIRY_TIMEOUT = VIEW_SECONDS + smoke.STEP_TIMEOUT
IMAGE_MAGICS = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


# ----- reading screens ---------------------------------------------------------------
def _cell_width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def pixel_blocks_per_row(screen: str, width: int) -> list[int]:
    """Half-cell blocks on each row, leaving out the scrollbar columns at the right edge."""
    counts = []
    for line in screen.splitlines():
        column = 0
        blocks = 0
        for char in line:
            if char in HALF_BLOCKS and column < width - SCROLLBAR_COLUMNS:
                blocks += 1
            column += _cell_width(char)
        counts.append(blocks)
    return counts


def pixel_rows(screen: str, width: int) -> int:
    return sum(1 for count in pixel_blocks_per_row(screen, width) if count >= PIXEL_ROW_MIN_BLOCKS)


def any_pixels(screen: str, width: int) -> bool:
    return any(pixel_blocks_per_row(screen, width))


_SGR_RE = re.compile(r"\x1b\[([0-9;:]*)m")
_ESCAPE_RE = re.compile(r"\x1b\[[0-9;:?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def _bold_after(sgr_params: str, bold: bool) -> bool:
    params = [p for p in sgr_params.replace(":", ";").split(";")] or [""]
    index = 0
    while index < len(params):
        param = params[index]
        if param in ("", "0", "22"):
            bold = False
        elif param == "1":
            bold = True
        elif param in ("38", "48", "58"):
            # Extended colour: skip its arguments (5;n or 2;r;g;b), which may be a 1.
            mode = params[index + 1] if index + 1 < len(params) else ""
            index += 2 if mode == "5" else 4 if mode == "2" else 1
        index += 1
    return bold


def shown_bold(coloured_screen: str, text: str) -> bool:
    """True when ``text`` is on screen in bold: how Textual marks the focused toggle or line."""
    for line in coloured_screen.splitlines():
        bold = False
        plain = ""
        position = 0
        for match in _ESCAPE_RE.finditer(line):
            plain += line[position : match.start()]
            if text in plain:
                break
            sgr = _SGR_RE.fullmatch(match.group(0))
            if sgr is not None:
                bold = _bold_after(sgr.group(1), bold)
            position = match.end()
        else:
            plain += line[position:]
        if text in plain:
            return bold
    return False


def focus_on(pane: Pane, text: str, key: str) -> None:
    """Press ``key`` (Tab or BTab) until the widget showing ``text`` has the focus."""
    for _ in range(MAX_FOCUS_STEPS):
        try:
            pane.wait_for(lambda _s: shown_bold(pane.capture_colours(), text), FOCUS_SETTLE_SECONDS)
            return
        except TmuxError:
            pane.press(key)
    raise AssertionError(f"{pane.session}: {text!r} never got the focus with {key}")


# ----- the files Bob's process could have left ---------------------------------------
def files_under(*roots: Path) -> dict[Path, tuple[int, int]]:
    return {
        path: (path.stat().st_mtime_ns, path.stat().st_size)
        for root in roots
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


def files_holding_images(paths: Iterable[Path]) -> list[Path]:
    holding = []
    for path in paths:
        data = path.read_bytes()
        if any(magic in data for magic in IMAGE_MAGICS):
            holding.append(path)
    return holding


# ----- the test -----------------------------------------------------------------------
def start_app(
    tmux: TmuxServer,
    name: str,
    mode: str,
    url: str,
    tmp_path: Path,
    *,
    cwd: Path,
    size: tuple[int, int],
) -> Pane:
    command = [str(smoke.P2PCHAT), mode, "--mailbox", url, "--loopback", "--images", "halfcell"]
    command += ["--lang", "en"]
    temp_dir = tmp_path / f"{name}-tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    env = smoke.app_env(tmp_path / f"{name}-config") | {"TMPDIR": str(temp_dir)}
    return tmux.new_session(name, command, env=env, cwd=cwd, size=size)


def test_view_once_photo_is_sealed_shown_once_then_gone_from_the_screen(
    mailbox_url: str, tmp_path: Path
) -> None:
    bob_cwd = tmp_path / "bob-cwd"
    bob_cwd.mkdir()
    bob_dirs = (tmp_path / "bob-config", tmp_path / "bob-tmp", bob_cwd)
    alice_width, bob_width = ALICE_SIZE[0], BOB_SIZE[0]
    with TmuxServer(tmp_path / "tmux") as tmux:
        # Alice starts where the corpus path is valid; Bob in an empty directory.
        alice = start_app(
            tmux, "alice", "invite", mailbox_url, tmp_path, cwd=smoke.ROOT, size=ALICE_SIZE
        )
        bob = start_app(tmux, "bob", "join", mailbox_url, tmp_path, cwd=bob_cwd, size=BOB_SIZE)
        with smoke.screens_saved_on_failure(tmp_path, alice, bob):
            invite_screen = alice.wait_for(
                lambda s: "Your invite code" in s and smoke.CODE_RE.search(s), smoke.START_TIMEOUT
            )
            code_match = smoke.CODE_RE.search(invite_screen)
            assert code_match is not None
            bob.wait_for("Join with a code", smoke.START_TIMEOUT)
            bob.type(code_match.group(0))
            bob.wait_for(code_match.group(0))
            bob.press("Enter")
            alice.wait_for("End-to-end encrypted", smoke.START_TIMEOUT)
            bob.wait_for("End-to-end encrypted", smoke.START_TIMEOUT)
            bob_files_before = files_under(*bob_dirs)

            # Alice: /send, tick View once with the keyboard, Ctrl+S.
            alice.type(f"/send {smoke.PHOTO_ARG}")
            alice.press("Enter")
            dialog = alice.wait_for("Will send", smoke.STEP_TIMEOUT)
            assert VIEW_ONCE_LABEL in dialog, "the send dialog shows no View once toggle"
            assert VIEW_ONCE_LIMITS not in dialog
            focus_on(alice, VIEW_ONCE_LABEL, "Tab")
            alice.press("Space")
            # Ticking it says the limits plainly: the proof the toggle is on.
            alice.wait_for(VIEW_ONCE_LIMITS, smoke.STEP_TIMEOUT)
            alice.press("C-s")
            alice_screen = alice.wait_for(
                lambda s: "Send a photo" not in s and "delivered" in s, smoke.STEP_TIMEOUT
            )
            # The sender keeps no viewable copy, and nobody has opened it yet.
            assert not any_pixels(alice_screen, alice_width), "Alice's chat shows the photo"
            assert not VIEWED_RE.search(alice_screen)

            # Bob: a sealed line, no pixels anywhere on his screen.
            sealed_screen = bob.wait_for(SEALED_TEXT, smoke.STEP_TIMEOUT)
            assert not any_pixels(sealed_screen, bob_width), "the sealed photo shows pixels"
            assert "GPS" not in sealed_screen

            # Bob opens it, keyboard only: from the composer back to the sealed line.
            focus_on(bob, SEALED_TEXT, "BTab")
            bob.press("Enter")
            viewer_screen = bob.wait_for(
                lambda s: COUNTDOWN_RE.search(s) and pixel_rows(s, bob_width) >= 8,
                smoke.STEP_TIMEOUT,
            )
            bob.save(tmp_path / "bob-viewer-screen.txt")
            countdown = COUNTDOWN_RE.search(viewer_screen)
            assert countdown is not None and 1 <= int(countdown.group(1)) <= VIEW_SECONDS

            # The countdown runs out: the viewer closes itself and the pixels are gone.
            after = bob.wait_for(
                lambda s: VIEWED_TEXT in s and not COUNTDOWN_RE.search(s), EXPIRY_TIMEOUT
            )
            assert not any_pixels(after, bob_width), "pixels left on Bob's screen after expiry"
            assert SEALED_TEXT not in after
            bob.save(tmp_path / "bob-expired-screen.txt")

            # Alice is told.
            alice_screen = alice.wait_for(VIEWED_RE, smoke.STEP_TIMEOUT)
            alice.save(tmp_path / "alice-viewed-screen.txt")
            assert not any_pixels(alice_screen, alice_width)

            # Enter on the viewed line again: no viewer, no pixels, and the app says why.
            # A new refusal notice proves the Enter was handled before we look.
            focus_on(bob, VIEWED_TEXT, "BTab")
            notices_before = bob.capture().count(REFUSAL_TEXT)
            bob.press("Enter")
            reopened = bob.wait_for(
                lambda s: s.count(REFUSAL_TEXT) > notices_before, smoke.STEP_TIMEOUT
            )
            assert not COUNTDOWN_RE.search(reopened), "the viewed photo opened again"
            assert not any_pixels(reopened, bob_width), "pixels after trying to reopen"
            assert VIEWED_TEXT in reopened

            alice.press("C-q")
            bob.wait_for("left the conversation", smoke.STEP_TIMEOUT)
            assert alice.wait_exit(smoke.STEP_TIMEOUT) == 0
            bob.press("C-q")
            assert bob.wait_exit(smoke.STEP_TIMEOUT) == 0

    # Nothing Bob's process wrote (config, temp, working dir) holds an image.
    bob_files_after = files_under(*bob_dirs)
    changed = [p for p, stamp in bob_files_after.items() if bob_files_before.get(p) != stamp]
    assert files_holding_images(changed) == [], "Bob's app wrote image data to disk"
    assert files_holding_images(list(bob_files_after)) == []
    assert not any(path.is_relative_to(bob_cwd) for path in bob_files_after), (
        "Bob's app left files in its working directory"
    )
    assert not any(path.is_relative_to(tmp_path / "bob-tmp") for path in bob_files_after), (
        "Bob's app left temp files"
    )
