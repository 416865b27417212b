"""LocalMailbox: an embedded mailbox server for front ends that may not import p2pchat.net."""

from __future__ import annotations


class LocalMailbox:
    """An embedded mailbox server in this process (demo, LAN use), for front ends.

    Front ends reach the network only through p2pchat.service; this is their handle on
    ``net.mailbox_server`` without importing it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from p2pchat.net.mailbox_server import MailboxServer

        self._server = MailboxServer(host=host, port=port)
        self.url = ""

    async def start(self) -> str:
        self.url = await self._server.start()
        return self.url

    async def stop(self) -> None:
        await self._server.stop()
