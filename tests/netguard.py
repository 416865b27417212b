"""The suite's promise that no test contacts a public server (issue 18).

``install`` wraps ``socket.getaddrinfo`` (what asyncio, aioice and websockets all
resolve through), ``socket.socket.connect`` and ``sendto``. Resolving a default
public server's name, or sending to an address outside loopback, 10/8 and the
100.64/10 namespace lab, raises ``PublicServerContacted`` and records it, so even
a swallowed error fails the test (``tests/conftest.py``). The ``p2pchat``
processes tests start get the same guard from ``netguard_site/sitecustomize.py``
(``tests.e2e.procs.p2pchat_env`` puts it on their PYTHONPATH); there a refused
contact ends the process with ``GUARD_EXIT``.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any, Final

from p2pchat.store.settings import DEFAULT_MAILBOX_URL, DEFAULT_STUN_URLS, DEFAULT_TRANSIT_RELAY

PUBLIC_DEFAULT_HOSTS = frozenset(
    {
        *(url.split(":")[1] for url in DEFAULT_STUN_URLS),
        DEFAULT_TRANSIT_RELAY.split(":")[1],
        DEFAULT_MAILBOX_URL.split("/")[2].split(":")[0],
    }
)
_ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "100.64.0.0/10", "0.0.0.0/32", "::/128")
)


GUARD_EXIT: Final = 97
GUARD_DIR: Final = str(__import__("pathlib").Path(__file__).resolve().parent / "netguard_site")


class PublicServerContacted(AssertionError):
    """A test reached for a server outside this machine."""


@functools.lru_cache(maxsize=1024)  # sendto runs per packet: judge each address once
def _allowed(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    name = host.split("%")[0]
    if name.lower().rstrip(".") in PUBLIC_DEFAULT_HOSTS:
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return True  # a name: judged when it resolves
    return any(address in net for net in _ALLOWED_NETWORKS) or address.is_link_local


def install(
    setattr_: Callable[[object, str, object], None],
    on_refuse: Callable[[str], None] | None = None,
) -> list[str]:
    """Refuse public servers from now on; returns the (growing) list of attempts.

    ``setattr_`` is ``monkeypatch.setattr`` in tests (undone afterwards) or the
    builtin in a child process; ``on_refuse`` runs before the error is raised.
    """
    attempts: list[str] = []

    def refuse(host: object) -> None:
        attempts.append(str(host))
        if on_refuse is not None:
            on_refuse(str(host))
        raise PublicServerContacted(f"a test tried to contact a public server: {host}")

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode("idna", "replace")
        if isinstance(host, str) and host.lower().rstrip(".") in PUBLIC_DEFAULT_HOSTS:
            refuse(host)
        results = real_getaddrinfo(host, *args, **kwargs)
        for *_, sockaddr in results:
            if not _allowed(sockaddr[0]):
                refuse(f"{host} ({sockaddr[0]})")
        return results

    real_connect = socket.socket.connect
    real_sendto = socket.socket.sendto

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _allowed(address[0]):
            refuse(address[0])
        return real_connect(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        address = args[-1]
        if isinstance(address, tuple) and not _allowed(address[0]):
            refuse(address[0])
        return real_sendto(self, data, *args)

    setattr_(socket, "getaddrinfo", getaddrinfo)
    setattr_(socket.socket, "connect", connect)
    setattr_(socket.socket, "sendto", sendto)
    return attempts
