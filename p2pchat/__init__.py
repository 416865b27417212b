"""p2pchat: a peer-to-peer, end-to-end encrypted terminal chat for two people."""

__version__ = "0.1.0"
