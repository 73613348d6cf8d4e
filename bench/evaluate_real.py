"""Section 2 of ``bench/evaluate.py``, real data (``../shared/datasets/LABELS.json``): each file
alone through the pipeline, its verdict against the labels, and the table.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from evaluate_common import DATASETS, MEDIUM_PLUS, _opt, analyze_case

from graph.config import AnalysisConfig


def _host_name(label: str) -> str | None:
    """``'WORKSTATION6.theshire.local (172.18.39.6)'`` -> ``WORKSTATION6``; IPs stay IPs."""
    token = label.split(" ", 1)[0].strip()
    if not token:
        return None
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", token):
        return token
    return token.split(".", 1)[0].upper()


def run_real(config: AnalysisConfig) -> list[dict[str, Any]]:
    """Every LABELS.json file alone through the pipeline; one row per file."""
    labels = json.loads((DATASETS / "LABELS.json").read_text())["files"]
    rows = []
    for entry in labels:
        expected = entry.get("expected_t1021_002")
        path = DATASETS / entry["path"]
        if expected is None:
            rows.append({"file": entry["path"], "expected": "n/a (labels only)", "verdict": "skipped"})
            continue
        started = time.perf_counter()
        try:
            result = analyze_case(path, config)
        except Exception as exc:   # report, do not abort the table
            rows.append({"file": entry["path"], "expected": str(expected), "verdict": f"ERROR {exc}"})
            continue
        hops = result.hops
        sev = hops["severity"].astype(str)
        med = hops[sev.isin(MEDIUM_PLUS)]
        high = hops[sev == "high"]
        gt = (entry.get("ground_truth") or {}).get("lateral_movement") or {}
        dests = {d for d in (_host_name(x) for x in gt.get("destination_hosts") or []) if d}
        row: dict[str, Any] = {"file": entry["path"], "expected": str(expected),
                               "hops": len(hops), "medium+": len(med), "high": len(high),
                               "seconds": round(time.perf_counter() - started, 2)}
        if expected:
            hit = med[med["dst_host"].isin(dests).fillna(False).to_numpy(dtype=bool)]
            row["verdict"] = "ok" if len(hit) else f"MISS (no medium+ hop to {sorted(dests)})"
            # a source known only from a companion file cannot be in this file alone
            srcs = {s for s in (_host_name(x) for x in (gt.get("source_ips") or [])
                                + (gt.get("source_hosts") or []) if "companion" not in x) if s}
            if srcs and len(hit):
                named = set(hit["src_host"].dropna().astype(str)) | set(hit["src_ip"].dropna().astype(str))
                row["source"] = "ok" if named & srcs else f"other ({sorted(named)} vs {sorted(srcs)})"
            else:
                row["source"] = "-" if not srcs else "n/a"
            row["best"] = (f"{_opt(hit.iloc[0]['src_host']) or _opt(hit.iloc[0]['src_ip'])}->"
                           f"{hit.iloc[0]['dst_host']} {hit.iloc[0]['severity']}") if len(hit) else ""
        else:
            row["verdict"] = "ok" if high.empty else f"FALSE ALARM ({len(high)} high hops)"
            first = high.iloc[0] if len(high) else None
            row["best"] = "" if first is None else (
                f"{_opt(first['src_host']) or _opt(first['src_ip'])}->{first['dst_host']}")
        rows.append(row)
    return rows


def print_real_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Markdown table of the real-data verdicts; returns the counts."""
    print("\n## Real data (../shared/datasets/LABELS.json)\n")
    print("| file | expected T1021.002 | hops | medium+ | high | verdict | labelled source | evidence |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['file']} | {r['expected']} | {r.get('hops', '')} | {r.get('medium+', '')} | "
              f"{r.get('high', '')} | {r['verdict']} | {r.get('source', '')} | {r.get('best', '')} |")
    attack = [r for r in rows if r["expected"] == "True"]
    negative = [r for r in rows if r["expected"] == "False"]
    counts = {"attack_detected": sum(r["verdict"] == "ok" for r in attack), "attack_files": len(attack),
              "negatives_clean": sum(r["verdict"] == "ok" for r in negative),
              "negative_files": len(negative)}
    print(f"\nattack samples detected: {counts['attack_detected']}/{counts['attack_files']}; "
          "hard negatives / benign without a high hop: "
          f"{counts['negatives_clean']}/{counts['negative_files']}")
    return counts
