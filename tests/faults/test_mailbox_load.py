"""scripts/mailbox-load at a small scale: 50 concurrent pairings plus abusive clients."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.procs import ROOT


def test_fifty_concurrent_pairings_and_abusers_within_limits():
    script = str(ROOT / "scripts" / "mailbox-load")
    limits = ["--deadline", "30", "--pair-timeout", "30", "--abuse-timeout", "10"]
    result = subprocess.run(
        [sys.executable, script, "-n", "50", "--abusers", "2", "--json", *limits],
        capture_output=True,
        text=True,
        timeout=150,
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
