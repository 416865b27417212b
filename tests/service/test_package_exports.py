"""`p2pchat.service` exports its names on first use (PEP 562), not with the package.

`p2pchat send` imports a few light modules of the service before its code is shown;
importing the package must not drag the whole stack in with them. Fresh interpreters,
since this test session has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import p2pchat.service as service


def _fresh(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_exported_name_resolves_to_its_module_s_object() -> None:
    from p2pchat.service import chat_service, config, rendezvous

    for name in service.__all__:
        assert getattr(service, name) is not None, name
    assert service.ChatService is chat_service.ChatService
    assert service.ServiceConfig is config.ServiceConfig
    assert service.ERROR_PHASE is rendezvous.ERROR_PHASE
    assert set(service.__all__) <= set(dir(service))


def test_importing_the_package_or_the_head_start_loads_no_service_stack() -> None:
    loaded = _fresh(
        "import sys\n"
        "import p2pchat.service\n"
        "print(sorted(m for m in sys.modules if m.startswith('p2pchat.service.')))\n"
        "import p2pchat.service.head_start, p2pchat.service.photo_file, p2pchat.service.profile\n"
        "heavy = ('spake2', 'websockets', 'aiortc', 'p2pchat.core.handshake',\n"
        "         'p2pchat.service.chat_service', 'p2pchat.service.events')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    assert loaded.splitlines() == ["[]", "[]"], loaded


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    try:
        service.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("an unknown name resolved")
