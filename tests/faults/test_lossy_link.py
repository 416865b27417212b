"""scripts/lossy_link.py: the user-space link the lab and the bench use instead of netem.

The spec parser runs everywhere; the link itself needs network namespaces (marker
``netns``): UDP datagrams cross it, and exactly the ones its seeded loss pattern
dropped are missing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest

from tests.e2e.procs import ROOT
from tests.faults.netns import namespaces, require_netns


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lossy_link", ROOT / "scripts" / "lossy_link.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lossy_link"] = module
    spec.loader.exec_module(module)
    return module


lossy_link = load()


def test_spec_parses_units_and_round_trips() -> None:
    spec = lossy_link.LinkSpec.parse("loss 5% delay 50ms jitter 5ms rate 8mbit queue 100 seed 3")
    assert (spec.loss, spec.delay, spec.jitter) == pytest.approx((0.05, 0.05, 0.005))
    assert spec.rate == pytest.approx(1e6) and spec.queue == 100 and spec.seed == 3
    assert lossy_link.LinkSpec.parse(spec.exact()) == spec


@pytest.mark.parametrize(
    "text", ["loss 5", "delay 50%", "loss 120%", "rate 8 mbit", "speed 1MB", "loss", "queue 0"]
)
def test_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        lossy_link.LinkSpec.parse(text)


@pytest.mark.netns
def test_the_link_loses_what_its_seeded_pattern_says_and_nothing_else() -> None:
    require_netns()
    spec = lossy_link.LinkSpec.parse("loss 10% delay 5ms jitter 1ms seed 7")
    with namespaces(3) as (wire, left, right):
        link = lossy_link.LossyLink(
            spec, wire, (left, "eth0", "10.77.9.1"), (right, "eth0", "10.77.9.2")
        )
        with link:
            script = (
                "import socket,sys\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "s.bind(('10.77.9.2',9000)); s.settimeout(2); n=0\n"
                "print('up',flush=True)\n"
                "try:\n"
                "    while True: s.recv(2048); n+=1\n"
                "except socket.timeout: print(n)\n"
            )
            receiver = subprocess.Popen(
                ["ip", "netns", "exec", right, sys.executable, "-c", script],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert receiver.stdout is not None and receiver.stdout.readline().strip() == "up"
            sender = (
                "import socket,time\n"
                "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                "for i in range(300): s.sendto(b'x'*1000,('10.77.9.2',9000)); time.sleep(0.001)\n"
            )
            subprocess.run(["ip", "netns", "exec", left, sys.executable, "-c", sender], check=True)
            received = int(receiver.communicate(timeout=30)[0].strip())
    forward = link.stats["a>b"]
    assert forward["packets"] == 300
    assert 10 <= forward["lost"] <= 60  # 10 % of 300, seeded: the same every run
    assert received == forward["packets"] - forward["lost"]
