"""The benchmark's report: each figure beside its anchor and target, as table rows."""

from __future__ import annotations

import statistics
from typing import Any

Row = tuple[str, str, str, str]  # what, p2pchat, anchor, target


def build_rows(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "pairing_s" in r:
        times = r["pairing_s"]
        rows.append(
            (
                "pairing: code entered -> paired (median)",
                f"{statistics.median(times) * 1000:.0f} ms (n={len(times)})",
                (
                    f"bare aiortc offer -> open "
                    f"{statistics.median(r['bare_connect_s']) * 1000:.0f} ms"
                    if r.get("bare_connect_s")
                    else "-"
                )
                + (
                    f"; wormhole whole send+receive {r['wormhole']['seconds']:.2f} s"
                    if r.get("wormhole")
                    else ""
                ),
                "<= 300 ms",
            )
        )
    if "transfer" in r:
        t = r["transfer"]
        bare = r.get("bare_aiortc_mb_per_s")
        ratio = f" = {t['mb_per_s'] / bare * 100:.0f} % of bare" if bare else ""
        rows.append(
            (
                f"original-size transfer {t['bytes'] / 1e6:.1f} MB, one process",
                f"{t['mb_per_s']:.1f} MB/s{ratio}",
                (f"bare aiortc {bare:.1f} MB/s" if bare else "-")
                + (f"; wormhole {r['wormhole']['mb_per_s']:.1f} MB/s" if r.get("wormhole") else ""),
                ">= 90 % of bare aiortc",
            )
        )
        rows.append(
            (
                "text latency during that transfer, one process",
                f"p95 {t['text_latency_p95_ms']:.0f} ms, p50 {t['text_latency_p50_ms']:.0f} ms "
                f"(n={t['text_samples']})",
                "-",
                "p95 <= 100 ms",
            )
        )
    rows += two_process_rows(r)
    if "photo_s" in r:
        times = r["photo_s"]
        rows.append(
            (
                "12 MP JPEG, default policy: send -> decoded at receiver",
                f"median {statistics.median(times):.2f} s (n={len(times)})",
                "-",
                "<= 1.0 s",
            )
        )
    s = r.get("sanitize")
    if s:
        rows.append(
            (
                "sanitise a 12 MP photo (median)",
                f"{s['photo_12mp_median_s'] * 1000:.0f} ms",
                "-",
                "<= 400 ms",
            )
        )
        rows.append(
            (
                f"sanitise the corpus ({s.get('corpus_files', '?')} files)",
                f"{s['p2pchat_batch_s']:.2f} s ({s.get('p2pchat_rejected', 0)} refused)",
                f"mat2 {s['mat2_batch_s']:.2f} s ({s.get('mat2_failures', 0)} failed)"
                if s.get("mat2_batch_s")
                else "mat2 missing",
                "faster than mat2",
            )
        )
    return rows


def two_process_rows(r: dict[str, Any]) -> list[Row]:
    """Sender and receiver in two processes, as two people run it (bench_two_process.py)."""
    t, bare = r.get("transfer_two_process"), r.get("bare_two_process")
    if not t:
        return []
    ratio = f" = {t['mb_per_s'] / bare['mb_per_s'] * 100:.0f} % of bare" if bare else ""
    if "ratio_rounds" in t:  # interleaved rounds: the median of the paired ratios
        pairs = ", ".join(f"{x:.2f}" for x in t["ratio_rounds"])
        ratio = f" = {t['ratio']:.2f}x bare (pairs {pairs})"
    runs = ", ".join(f"{x:.1f}" for x in t["mb_per_s_rounds"])
    return [
        (
            f"original-size transfer {t['bytes'] / 1e6:.1f} MB, two processes (median)",
            f"{t['mb_per_s']:.1f} MB/s{ratio} (runs {runs})",
            f"bare aiortc, two processes {bare['mb_per_s']:.1f} MB/s (runs "
            + ", ".join(f"{x:.1f}" for x in bare["mb_per_s_rounds"])
            + ")"
            if bare
            else "-",
            ">= 90 % of bare aiortc; aim >= 1.5x (issue 15)",
        ),
        (
            "text latency during that transfer, two processes",
            f"p95 {t['text_latency_p95_ms']:.0f} ms, p50 {t['text_latency_p50_ms']:.0f} ms "
            f"(n={t['text_samples']})",
            f"bare aiortc p95 {bare['text_latency_p95_ms']:.0f} ms, "
            f"p50 {bare['text_latency_p50_ms']:.0f} ms"
            if bare
            else "-",
            "p95 <= 100 ms",
        ),
    ]


def print_table(rows: list[Row]) -> None:
    headers = ("what", "p2pchat", "anchor (same run)", "target")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
