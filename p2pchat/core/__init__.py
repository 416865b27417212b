"""The sans-I/O core: codes, pairing, crypto, framing and the session protocol.

Nothing here does I/O or imports asyncio, aiortc or Textual: bytes and events in,
bytes and events out (the h11 model). The edges in ``p2pchat.net`` carry them.
"""
