"""Every lesson of `p2pchat demo`, stepped with the pilot in English and in Japanese.

One real demo app per language: Alice and Bob are real ChatServices paired
through the embedded mailbox over aiortc on 127.0.0.1. At each step the test
checks the step's claim against the live state itself (the sample's bytes and
Bob's received bytes through the project's inspect AND exiftool, the vault,
the wrong-code services' errors, the exported file), not only the step's own
verdict. Waits poll with a deadline; nothing is timed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from textual.widgets import Button, Static

from p2pchat.core.message import ViewOnceState
from p2pchat.i18n import set_language, t
from p2pchat.media.content_scan import scan
from p2pchat.media.inspect import inspect_image
from p2pchat.media.samples import BODY_SERIAL, CAMERA_MAKE
from p2pchat.service import events as ev
from p2pchat.tui.demo.demo_app import DemoApp, make_demo_app
from p2pchat.tui.demo.lessons import STEPS
from p2pchat.tui.screens.send_dialog import SendDialog
from p2pchat.tui.widgets.composer import Composer
from p2pchat.tui.widgets.message_list import ImageMessage, TextMessage
from p2pchat.tui.widgets.sealed import SealedPhoto
from tests.photos import photo

from .helpers import exiftool_tags, metadata_tags, text_of, until

STEP_KEYS = [step.key for step in STEPS]
GPS_PHOTO = photo("nikon-gps-DSCN0010.jpg")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def panel_text(app: DemoApp, selector: str) -> str:
    return text_of(app.panel.query_one(selector, Static))


def pane_notices(app: DemoApp, side: str) -> str:
    return "\n".join(text_of(n) for n in app.pane(side).messages.query(".notice"))


async def step_to(app: DemoApp, pilot, index: int) -> None:
    if index:
        await pilot.press("pagedown")
    await app.wait_step(index)
    assert index not in app.errors, app.errors.get(index)
    outcome = app.outcomes[index]
    assert outcome.held, f"step {STEPS[index].key}: {outcome.claim} / {outcome.lines}"
    await until(lambda: app.panel.index == index, f"panel shows step {index}")


@pytest.mark.parametrize("language", ["en", "ja"])
async def test_every_lesson_holds_on_the_live_state(language: str, tmp_path: Path) -> None:
    app = make_demo_app(language, renderer="halfcell", view_seconds=1.0)
    async with app.run_test(size=(180, 50)) as pilot:
        stage = app.stage
        assert STEP_KEYS[0] == "xray"

        # ---- 1. what a photo carries ----------------------------------------------------
        await step_to(app, pilot, 0)
        sample = app.ctx.photo()
        assert {"gps", "device", "serial", "thumbnail", "trailer"} <= inspect_image(
            sample
        ).categories()
        before = exiftool_tags(sample, tmp_path, "sample.jpg")
        assert "GPS:GPSLatitude" in before and "GPS:GPSLongitude" in before
        assert before.get("IFD0:Make") == CAMERA_MAKE
        heading = panel_text(app, "#lesson-heading")
        assert t("demo.steps.xray.title") in heading
        assert "35.6586 N 139.7454 E" in panel_text(app, "#lesson-lines")
        # The X-ray's heading and the check under it count the same things.
        await until(lambda: panel_text(app, "#lesson-claim"), "the step's claim")
        findings = len(inspect_image(sample).findings)
        assert t("demo.xray.heading", count=findings) in panel_text(app, "#lesson-lines")
        assert t("demo.claims.xray", count=findings) in panel_text(app, "#lesson-claim")
        # Dates as people write them, not EXIF's 2024:04:06 10:15:30.
        assert not re.search(r"\d{4}:\d{2}:\d{2} \d{2}:\d{2}", panel_text(app, "#lesson-lines"))
        if language == "ja":
            assert JAPANESE.search(heading) and "Lesson" not in heading
        else:
            assert heading.startswith("Lesson 1 of 6")

        # ---- 2. Alice sends; Bob's copy is clean ------------------------------------------
        await step_to(app, pilot, 1)
        received = [e for e in stage.history["bob"] if isinstance(e, ev.ImageReceived)]
        assert len(received) == 1 and received[0].data
        bob_copy = received[0].data
        assert inspect_image(bob_copy).findings == []
        after = exiftool_tags(bob_copy, tmp_path, "bob.jpg")
        assert metadata_tags(after) == {}
        assert BODY_SERIAL not in str(after) and CAMERA_MAKE not in str(after)
        assert bob_copy.find(b"\xff\xd9") == len(bob_copy) - 2  # nothing after the image end
        await until(lambda: app.pane("bob").messages.query(ImageMessage), "image in Bob's pane")
        bob_texts = [
            text_of(m.query_one(".message-body"))
            for m in app.pane("bob").messages.query(TextMessage)
        ]
        assert t("demo.script.alice_text") in bob_texts
        # Bob's clean arrival is said once, in plain words ("Removed: Arrived clean" was not).
        reports = [text_of(r) for r in app.pane("bob").messages.query(".message-report")]
        assert t("report.nothing_found_receiver") in reports
        assert not any(t("report.removed", items="") in r for r in reports)

        # ---- 3. the 3-second check: the picture itself still travels ---------------------
        await step_to(app, pilot, 2)
        assert t("demo.check.q2") in panel_text(app, "#lesson-lines")

        # ---- 3b. the picture check: it warns of a face and a card; Bob gets them blurred --
        images_before = len(app.pane("bob").messages.query(ImageMessage))
        await step_to(app, pilot, 3)
        lines = panel_text(app, "#lesson-lines")
        assert t("report.content.faces", count=1) in lines
        assert t("demo.blur.arrived") in lines and t("report.content.limits") in lines
        blurred = [e for e in stage.history["bob"] if isinstance(e, ev.ImageReceived)][-1]
        assert scan(Image.open(io.BytesIO(blurred.data))).faces == []
        await until(
            lambda: len(app.pane("bob").messages.query(ImageMessage)) > images_before,
            "the blurred photo in Bob's pane",
        )

        # ---- 4. view once: sealed, opened once, gone --------------------------------------
        await step_to(app, pilot, 4)
        message_id, vault_id = app.ctx.data["view_once"]
        bob = stage.services["bob"]
        assert vault_id in bob.vault
        await until(lambda: app.pane("bob").messages.get(message_id) is not None, "sealed line")
        sealed = app.pane("bob").messages.get(message_id)
        assert isinstance(sealed, SealedPhoto) and sealed.seal is ViewOnceState.SEALED
        assert not sealed.query(ImageMessage) and not sealed.query("ImageView")

        await step_to(app, pilot, 5)
        assert vault_id not in bob.vault and len(bob.vault) == 0
        assert bob.vault.gone_reason(vault_id) == "viewed"
        assert sealed.seal is ViewOnceState.VIEWED
        await until(
            lambda: (
                app.pane("alice").messages.get(message_id) is not None
                and app.pane("alice").messages.get(message_id).view_once is ViewOnceState.OPENED
            ),
            "Alice sees 'viewed'",
        )

        # ---- 5. verification: same safety number; a wrong code fails ----------------------
        await step_to(app, pilot, 6)
        number = stage.services["alice"].safety_number
        assert number == stage.services["bob"].safety_number
        assert len([c for c in number if c.isdigit()]) == 60
        first_group = "".join(c for c in number if c.isdigit())[:5]
        assert first_group in pane_notices(app, "alice") and first_group in pane_notices(app, "bob")

        paired_before = len([e for e in stage.history["alice"] if isinstance(e, ev.Paired)])
        await step_to(app, pilot, 7)
        assert t("demo.wrong_code.pane") in pane_notices(app, "alice")
        assert "✘" not in panel_text(app, "#lesson-lines")
        # The attempt used fresh services: Alice's real conversation is untouched.
        assert stage.services["alice"].state == "paired"
        assert len([e for e in stage.history["alice"] if isinstance(e, ev.Paired)]) == paired_before

        # ---- 6. after sending: evidence export ---------------------------------------------
        await step_to(app, pilot, 8)
        exported = next(stage._export_dir.glob("conversation-bob.txt"))
        content = exported.read_text("utf-8")
        assert t("demo.script.alice_text") in content
        # The two normal photos (the sample, the blurred card), in the lesson's language;
        # never the view-once one.
        assert content.count(t("demo.export.photo_marker")) == 2
        if language == "ja":
            assert "[photo" not in content
        assert exported.stat().st_mode & 0o077 == 0

        # ---- back and forth shows what was found, and runs nothing twice -----------------
        def bob_events() -> list[object]:
            # Heartbeats (RoundTrip) arrive on their own clock: not a step run twice.
            return [e for e in stage.history["bob"] if not isinstance(e, ev.RoundTrip)]

        received_count = len(bob_events())
        await pilot.press("pageup")
        await until(lambda: app.panel.index == 7, "back one step")
        assert t("demo.steps.wrong_code.title") in panel_text(app, "#lesson-heading")
        await pilot.press("pagedown")
        await until(lambda: app.panel.index == 8, "forward again")
        assert len(bob_events()) == received_count, bob_events()[received_count:]
        # ---- the presenter can use both panes freely: text and /send PATH ----------------
        composer = app.pane("bob").query_one(Composer)
        composer.focus()
        composer.insert("hello from Bob's keyboard")
        await pilot.press("enter")
        await until(
            lambda: any(
                isinstance(e, ev.TextReceived) and e.text == "hello from Bob's keyboard"
                for e in stage.history["alice"]
            ),
            "Alice received Bob's typed text",
        )
        composer.insert(f"/send {GPS_PHOTO}")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, SendDialog), "the send dialog")
        await until(lambda: not app.screen.query_one("#send", Button).disabled, "prepared")
        await pilot.press("ctrl+s")  # a key, not a click: the button may be below the fold
        await until(lambda: not isinstance(app.screen, SendDialog), "the dialog sent")
        arrived = await stage.wait_for(
            "alice", lambda e: isinstance(e, ev.ImageReceived) and bool(e.data)
        )
        assert "gps" not in inspect_image(arrived.data).categories()

        # ---- 6. blocking, live: Bob's next message and his new meeting are refused -------
        await step_to(app, pilot, 9)
        assert STEPS[9].key == "block"
        lines = panel_text(app, "#lesson-lines")
        assert "✘" not in lines and lines.count("✔") == 3
        assert t("demo.block.alice_pane", name=app.names["bob"]) in pane_notices(app, "alice")
        assert t("demo.block.bob_pane", name=app.names["alice"]) in pane_notices(app, "bob")
        # Alice really left: her conversation is over, and Bob's words never showed anywhere.
        assert stage.services["alice"].state != "paired"
        words = t("demo.block.bob_words")
        assert not any(
            isinstance(e, ev.TextReceived) and e.text == words for e in stage.history["alice"]
        )
        # The last step says the lessons are over and what to do next; PageDown says so too.
        assert t("demo.after.the_end") in lines
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.panel.index == 9
        await pilot.press("ctrl+q")
    assert not exported.exists()  # the demo leaves no conversation file behind
