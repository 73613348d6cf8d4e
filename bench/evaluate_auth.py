"""Section 3 of ``bench/evaluate.py``, authentication only (``--auth-only``, issue 13): seeded
LANL-style enterprises as ``auth.txt`` or a DC's log, scored per case and over a threshold sweep.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from evaluate_common import analyze_case

from graph.config import AnalysisConfig
from ingest.case import write_case

SWEEP = (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def run_auth_only(seeds: list[int], hosts: list[int], profiles: list[str], days: int,
                  config: AnalysisConfig) -> list[dict[str, Any]]:
    """Generate, analyse and score authentication-only cases; one row per (hosts, profile, seed)."""
    import os

    from ingest.synthetic.auth_enterprise import START, dc_events, simulate_auth, write_lanl

    os.environ["LATGRAPH_LANL_EPOCH"] = START.isoformat()
    rows = []
    with tempfile.TemporaryDirectory(prefix="latgraph-auth-") as tmp:
        for n in hosts:
            for seed in seeds:
                sim = simulate_auth(seed, n_hosts=n, days=days, stealthy=seed % 2 == 1)
                every = {(src, dst, acct.lower()) for _, acct, src, dst in sim.truth.hops}
                for profile in profiles:
                    # a DC sees an NTLM logon only as a 4776 naming the client, never the server
                    truth = every - sim.truth.ntlm if profile == "dc" else every
                    if profile == "lanl":
                        case, _ = write_lanl(sim, Path(tmp) / f"{n}-{seed}")
                    else:
                        case = write_case(dc_events(sim), Path(tmp) / f"{n}-{seed}-dc.parquet")
                    started = time.perf_counter()
                    result = analyze_case(case, config)
                    seconds = time.perf_counter() - started
                    h = result.hops
                    keys = list(zip(h["src_host"].astype(object), h["dst_host"].astype(object),
                                    h["account"].astype(object), strict=True))
                    mal = pd.Series([k in truth for k in keys], index=h.index)
                    score = h["score"].to_numpy(dtype=float)
                    curve = {}
                    for thr in SWEEP:
                        hit = score >= thr
                        found = {k for k, m, x in zip(keys, mal, hit, strict=True) if m and x}
                        curve[thr] = (len(found), int((hit & ~mal.to_numpy()).sum()))
                    pz = [p.host for p in result.patient_zero]
                    # with DC logs only, patient zero is the source of the first hop the DC can see
                    seen = sorted(hop for hop in sim.truth.hops if (hop[2], hop[3], hop[1].lower()) in truth)
                    want = seen[0][2] if seen else sim.truth.patient_zero
                    row = {"hosts": n, "profile": profile, "seed": seed, "stealthy": seed % 2 == 1,
                           "days": days, "truth_hops": len(truth), "unobservable": len(every - truth),
                           "pz": want, "pz_hidden": want != sim.truth.patient_zero,
                           "pz_rank": pz.index(want) + 1 if want in pz else None,
                           "pz_top": pz[0] if pz else None, "hops": len(h), "seconds": seconds,
                           "curve": curve,
                           "missed": sorted(truth - {k for k, m, x in zip(
                               keys, mal, score >= config.min_score, strict=True) if m and x})}
                    rows.append(row)
                    found, false = curve[0.4]
                    print(f"  auth {profile} {n} hosts seed {seed}: pz rank {row['pz_rank']}, hops {found}/"
                          f"{len(truth)}, false medium+ {false}, {seconds:.1f}s", file=sys.stderr)
    return rows


def print_auth_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (hosts, profile): PZ top-1, recall and false medium+ per day per 1,000 hosts; the curve."""
    summary: dict[str, Any] = {}
    print("\n## Authentication only (--auth-only)\n")
    print("| hosts | profile | cases | days | PZ top-1 | hop recall (medium+) "
          "| false medium+ / day / 1k hosts | mean analysis s |")
    print("|---|---|---|---|---|---|---|---|")
    groups = sorted({(r["hosts"], r["profile"]) for r in rows})
    for n, profile in groups:
        rs = [r for r in rows if r["hosts"] == n and r["profile"] == profile]
        top1 = sum(r["pz_rank"] == 1 for r in rs)
        th = sum(r["truth_hops"] for r in rs)
        fh = sum(r["curve"][0.4][0] for r in rs)
        false = sum(r["curve"][0.4][1] for r in rs)
        unit = sum(r["days"] * r["hosts"] / 1000 for r in rs)
        secs = sum(r["seconds"] for r in rs) / len(rs)
        unseen = sum(r["unobservable"] for r in rs)
        hidden = sum(r["pz_hidden"] for r in rs)
        print(f"| {n:,} | {profile} | {len(rs)} | {rs[0]['days']} | {top1}/{len(rs)}"
              f"{f' ({hidden} by their first visible hop)' if hidden else ''} | "
              f"{fh / th:.1%} ({fh}/{th}{f'; +{unseen} NTLM not in a DC log' if unseen else ''}) | "
              f"{false / unit:.2f} ({false}) | {secs:.1f} |")
        summary[f"{n}-{profile}"] = {"cases": len(rs), "pz_top1": top1, "recall": fh / th,
                                     "false_per_day_per_1k": false / unit}
    print("\n### Alerts per day against recall (threshold sweep, all cases of a profile)\n")
    print("| profile | threshold | hop recall | false alerts / day / 1k hosts "
          "| all alerts / day / 1k hosts |")
    print("|---|---|---|---|---|")
    for profile in sorted({r["profile"] for r in rows}):
        rs = [r for r in rows if r["profile"] == profile]
        th = sum(r["truth_hops"] for r in rs)
        unit = sum(r["days"] * r["hosts"] / 1000 for r in rs)
        for thr in SWEEP:
            fh = sum(r["curve"][thr][0] for r in rs)
            false = sum(r["curve"][thr][1] for r in rs)
            print(f"| {profile} | {thr:.2f} | {fh / th:.1%} | {false / unit:.2f} | "
                  f"{(false + fh) / unit:.2f} |")
    bad = [r for r in rows if r["pz_rank"] != 1 or r["missed"]]
    if bad:
        print("\n### Cases that miss a target\n")
        for r in bad:
            slow = " (stealthy)" if r["stealthy"] else ""
            print(f"- {r['profile']} {r['hosts']} hosts seed {r['seed']}{slow}: "
                  f"patient zero {r['pz']} ranked {r['pz_rank']} (top: {r['pz_top']}); missed hops "
                  f"{r['missed'][:4]}{' ...' if len(r['missed']) > 4 else ''}")
    return summary
