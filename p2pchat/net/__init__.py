"""The only home of aiortc and websockets: mailbox client and server, WebRTC transport."""
