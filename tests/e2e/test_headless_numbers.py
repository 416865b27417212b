"""Headless `send_image` tells the sender how many digits a long number has, never the
digits: not in any event of either side, not on stderr. Two real `p2pchat headless`
processes on 127.0.0.1 and the real mailbox; the photo is read in the real worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from tests.e2e.test_readme_jsonlines import Pair
from tests.media.test_content_ocr import leaks, needs_reader

DATA = Path(__file__).resolve().parents[1] / "data"


@needs_reader
def test_the_report_counts_a_card_numbers_digits_and_no_output_holds_them(
    mailbox_process: str, tmp_path: Path
) -> None:
    Image.open(DATA / "content" / "synthetic-card-face.jpg").save(tmp_path / "card.jpg")
    (tmp_path / "received").mkdir()
    pair = Pair(tmp_path, mailbox_process)
    try:
        pair.send(pair.peer, {"cmd": "send_image", "path": "card.jpg"})
        report, sender_events = pair.peer_out.until("report")
        assert any(re.search(r"\b16\b.*digits can be read", line) for line in report["picture"])
        _, more = pair.peer_out.until("sent")
        _, receiver_events = pair.you_out.until("image")
        said = json.dumps(sender_events + more + receiver_events, ensure_ascii=False)
        assert leaks(said) == []
        # The warning stays with the sender.
        assert "digits" not in json.dumps(receiver_events)
    finally:
        pair.stop()
    stderr = (pair.peer.stderr.read() if pair.peer.stderr else "") + (
        pair.you.stderr.read() if pair.you.stderr else ""
    )
    assert leaks(stderr) == []
