"""The demo's pane and the chat screen draw a chat the same way: one rendering path.

The same service events (a text, a photo, a view-once photo, a cancelled and a
refused transfer, our own text from placeholder to delivered, a failure) go to
a real ``ChatScreen`` (``App.run_test``) and to a real demo ``ChatPane``; what
their message lists then hold (each message's kind, id, direction, state,
sender, body, caption and report, and every notice) must be identical.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from p2pchat.i18n import t
from p2pchat.service import events as ev
from p2pchat.tui.demo.chat_pane import ChatPane
from p2pchat.tui.widgets.message_list import MessageItem, MessageList
from tests.photos import photo
from tests.tui.test_offline import offline_app, open_chat

PHOTO = photo("nikon-gps-DSCN0010.jpg").read_bytes()


def events() -> list[ev.ServiceEvent]:
    return [
        ev.TextReceived("t1", "hello [b]there[/b]\x1b[31m", 1_700_000_000.0),
        ev.TransferStarted("p1", "in", len(PHOTO), False),
        ev.TransferProgress("p1", "in", 1000, len(PHOTO), 5000.0),
        ev.ImageReceived("p1", PHOTO, "image/jpeg", 640, 480, False, 0.0, ("GPS location",)),
        ev.ImageReceived("v1", b"", "image/jpeg", 64, 48, True, 10.0, ()),
        ev.TransferStarted("p2", "in", 5000, False),
        ev.TransferCancelled("p2", "in", by_peer=True),
        ev.ImageRejected("p3", "not an image \x1b[2J"),
        ev.Delivered("m1"),
        ev.ViewOnceRefused("m9"),
        ev.Failed("the link broke", 4),
    ]


def drawn(messages: MessageList, skip: int) -> list[tuple[object, ...]]:
    """What a message list shows after its first ``skip`` children, in order."""
    shown: list[tuple[object, ...]] = []
    for child in list(messages.children)[skip:]:
        if isinstance(child, MessageItem):
            texts = tuple(
                (sorted(part.classes)[0], str(part.render()))
                for part in child.query(Static)
                if not part.has_class("message-header")
            )
            shown.append(
                (
                    type(child).__name__,
                    child.message_id,
                    child.direction,
                    child.sender,
                    child.state,
                    child.view_once,
                    child.state_word,
                    texts,
                )
            )
        else:
            shown.append(("notice", sorted(child.classes), str(child.render())))
    return shown


async def feed(
    messages: MessageList, apply: object, sent: object, pilot: object
) -> list[tuple[object, ...]]:
    skip = len(messages.children)
    item = messages.add_text("local-1", "out", "alice", "my own words")
    await pilot.pause()  # type: ignore[attr-defined]
    sent("local-1", "m1")  # type: ignore[operator]
    for event in events():
        apply(event)  # type: ignore[operator]
        await pilot.pause()  # type: ignore[attr-defined]
    assert item.message_id == "m1"
    return drawn(messages, skip)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatPane("alice", "alice", "bob", renderer="halfcell")


async def test_the_demo_pane_and_the_chat_screen_draw_the_same_events_the_same_way():
    app = offline_app()
    async with app.run_test(size=(100, 60)) as pilot:
        chat = await open_chat(app, pilot)
        on_screen = await feed(
            chat.query_one(MessageList), chat.apply_event, chat.message_sent, pilot
        )

    pane_app = PaneApp()
    async with pane_app.run_test(size=(100, 60)) as pilot:
        pane = pane_app.query_one(ChatPane)
        in_demo = await feed(pane.messages, pane.apply_event, pane.view.sent, pilot)

    # The chat screen alone then says how to leave an ended chat (Esc, home): its chrome.
    *messages_drawn, ended = on_screen
    assert ended == ("notice", ["-info", "notice"], t("chat.ended"))
    assert in_demo == messages_drawn
    kinds = [row[0] for row in on_screen]
    # Everything the events say is there: three messages in, ours, and the notices.
    assert kinds.count("TextMessage") == 2 and kinds.count("ImageMessage") == 2
    assert sum(kind == "notice" for kind in kinds) >= 4
    ours = next(row for row in on_screen if row[1] == "m1")
    assert ours[6] == "delivered"
