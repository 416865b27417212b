"""Headless `send_image` fixes what the picture shows: blur_faces, blur_text, blur_boxes,
max_side. Two real `p2pchat headless` processes on 127.0.0.1 and the real mailbox."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from p2pchat.media.content_scan import scan
from tests.e2e.test_readme_jsonlines import Pair

DATA = Path(__file__).resolve().parents[1] / "data"


def test_send_image_blurs_and_lowers_the_resolution_and_keeps_the_warning_home(
    mailbox_process: str, tmp_path: Path
) -> None:
    Image.open(DATA / "content" / "synthetic-card-face.jpg").save(tmp_path / "card.jpg")
    (tmp_path / "received").mkdir()
    pair = Pair(tmp_path, mailbox_process)
    try:
        # A malformed field is a clear error, and the session carries on.
        pair.send(pair.peer, {"cmd": "send_image", "path": "card.jpg", "blur_boxes": [[0, 0, 2]]})
        error, _ = pair.peer_out.until("error")
        assert "blur_boxes" in error["message"] and error["fatal"] is False
        pair.send(pair.peer, {"cmd": "send_image", "path": "card.jpg", "max_side": "big"})
        error, _ = pair.peer_out.until("error")
        assert "max_side" in error["message"]

        pair.send(
            pair.peer,
            {
                "cmd": "send_image",
                "path": "card.jpg",
                "blur_faces": True,
                "blur_text": True,
                "blur_boxes": [[0.0, 0.0, 0.1, 0.1]],
                "max_side": 640,
            },
        )
        report, _ = pair.peer_out.until("report")
        assert any("Blurred before sending: 1 face(s)" in line for line in report["picture"])
        assert not any("visible" in line for line in report["removed"])
        sent, _ = pair.peer_out.until("sent")
        assert max(sent["width"], sent["height"]) == 640
        image, _ = pair.you_out.until("image")
        received = Image.open(tmp_path / image["path"])
        assert max(received.size) == 640
        assert scan(received).faces == []
        assert scan(received).documents == []
        # The sender's warning never reaches the peer: only pixels travel.
        assert "picture" not in image
        assert not any("face" in line or "lurred" in line for line in image.get("removed", []))
    finally:
        pair.stop()


def test_send_image_without_fixes_reports_what_the_picture_shows(
    mailbox_process: str, tmp_path: Path
) -> None:
    Image.open(DATA / "content" / "skimage-astronaut.jpg").save(tmp_path / "me.jpg")
    (tmp_path / "received").mkdir()
    pair = Pair(tmp_path, mailbox_process)
    try:
        pair.send(pair.peer, {"cmd": "send_image", "path": "me.jpg"})
        report, _ = pair.peer_out.until("report")
        assert "1 face is visible in the picture." in report["picture"]
        image, _ = pair.you_out.until("image")
        assert scan(Image.open(io.BytesIO((tmp_path / image["path"]).read_bytes()))).faces
    finally:
        pair.stop()
