"""scripts/mailbox-load at a small scale: 50 concurrent pairings plus abusive clients,
then the audit's one-address nameplate flood (issue 13 §4) against a server whose
2048 nameplates are cut to 200, so that 300 sockets would take them all."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.procs import ROOT


def test_fifty_concurrent_pairings_and_abusers_within_limits():
    script = str(ROOT / "scripts" / "mailbox-load")
    limits = ["--deadline", "30", "--pair-timeout", "30", "--abuse-timeout", "10"]
    flood = ["--flood-sockets", "300", "--max-nameplates", "200"]
    result = subprocess.run(
        [sys.executable, script, "-n", "50", "--abusers", "2", "--json", *limits, *flood],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["succeeded"] == 50 and report["limits_held"]
    assert report["serving_after_load"]
    # Every abusive client was cut off by the server (none survived).
    assert set(report["abuse"]) == {"oversized", "flood", "half-open", "half-open-tcp", "garbage"}
    for outcomes in report["abuse"].values():
        assert "SURVIVED" not in outcomes and sum(outcomes.values()) == 2
    assert 0 < report["server_peak_rss_mib"] <= 200
    # One address flooding: it gets its share, and others still pair during and after.
    flooded = report["nameplate_flood"]
    assert flooded["pairing_during"] and flooded["pairing_after"], flooded
    assert 0 < flooded["nameplates_taken"] < 200
    refused = flooded["refused_allocations"]
    assert refused == {
        "too many nameplates in use from your address, try again later": 300
        - flooded["refused_at_door"]
        - flooded["nameplates_taken"]
    }
