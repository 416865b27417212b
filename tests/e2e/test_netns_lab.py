"""scripts/nat-lab under pytest: real NATs built from network namespaces.

Marker ``netns`` (deselected by default): ``pytest -m netns tests/e2e/test_netns_lab.py``
as root where network namespaces are allowed. The lab exits 77 (no namespaces)
or 78 (a tool is missing), which skips the test instead of failing it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.procs import ROOT

pytestmark = pytest.mark.netns

NAT_LAB = ROOT / "scripts" / "nat-lab"
CANNOT_RUN_HERE = {77: "network namespaces are not permitted here", 78: "a lab tool is missing"}


def run_lab(*args: str, timeout: float = 300) -> list[dict]:
    result = subprocess.run(
        [sys.executable, str(NAT_LAB), "--json", "--python", sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode in CANNOT_RUN_HERE:
        pytest.skip(f"{CANNOT_RUN_HERE[result.returncode]}: {result.stderr.strip()}")
    outcomes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0, (outcomes, result.stderr)
    return outcomes


def lab_namespaces() -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.startswith("p2plab-")}


def test_direct_through_cone_nats_and_relay_through_coturn_for_symmetric_nat():
    before = lab_namespaces()
    outcomes = {o["scenario"]: o for o in run_lab()}
    assert {"direct", "relay", "hidden"} <= set(outcomes)
    assert set(outcomes["direct"]["connection"].values()) == {"direct"}
    assert outcomes["direct"]["relay_allocations"] == 0  # TURN was not even configured
    assert set(outcomes["relay"]["connection"].values()) == {"relay"}
    assert outcomes["relay"]["relay_allocations"] >= 1  # coturn really carried it
    assert set(outcomes["hidden"]["connection"].values()) == {"relay"}
    assert all(o["exit_codes"] == [0, 0] for o in outcomes.values()), outcomes
    # The lab removed every namespace it created.
    assert lab_namespaces() <= before


def test_transfer_completes_across_the_nat_under_five_percent_loss():
    outcomes = run_lab("--scenario", "direct", "--netem", "loss 5%")
    assert len(outcomes) == 1 and outcomes[0]["passed"], outcomes


def test_direct_scenario_over_a_lossy_slow_link_without_netem():
    outcomes = run_lab("--scenario", "direct", "--link", "loss 5% delay 50ms jitter 5ms")
    assert len(outcomes) == 1 and outcomes[0]["passed"], outcomes


def test_default_settings_chat_across_nats_direct_or_through_the_transit_relay():
    """Issue 18: no flags, no settings file; the public servers' names lead to the lab.

    cone <-> cone punches through directly; cone <-> symmetric and two homes that
    block all UDP meet at the real transit relay. Each delivers a 5 MB photo, and
    `wormhole send` moves the same photo through the same relay for comparison.
    """
    outcomes = {o["scenario"]: o for o in run_lab("--scenario", "defaults", timeout=600)}
    expected = {
        "default-direct": "direct",
        "default-transit": "transit",
        "default-no-udp": "transit",
    }
    assert set(outcomes) == set(expected)
    for name, path in expected.items():
        outcome = outcomes[name]
        assert outcome["passed"] and outcome["exit_codes"] == [0, 0], outcome
        assert set(outcome["connection"].values()) == {path}, outcome
        assert outcome["photo_bytes"] > 5_000_000, outcome
        assert outcome["rate_mb_s"] > 0 and not outcome["wormhole_error"], outcome
