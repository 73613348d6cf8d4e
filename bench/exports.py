"""Time and size of every exporter on synthetic results of growing size; prints a table.

    .venv/bin/python bench/exports.py [--hops 1000 10000 100000] [--evidence 4] [--scope all]

A result with N hops over sqrt(N)*4 hosts, each hop with ``--evidence`` evidence events that are
also in the events frame (so the evidence detail join does real work), a path every 10 hops and
a patient zero. No assertion: the figures are for the report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.exports import EXPORTERS
from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult, PatientZero, account_node, host_node
from graph.model import Path as LPath
from ingest.report import IngestReport
from ingest.schema import COLUMNS, coerce_frame

T0 = pd.Timestamp(datetime(2024, 3, 1, tzinfo=UTC))


def synthetic_result(n_hops: int, n_evidence: int, seed: int = 7) -> AnalysisResult:
    """A consistent AnalysisResult with ``n_hops`` hops (see module docstring)."""
    rng = np.random.default_rng(seed)
    n_hosts = max(int(np.sqrt(n_hops) * 4), 4)
    hosts = np.array([f"HOST{i:05d}" for i in range(n_hosts)], dtype=object)
    accounts = np.array([f"user{i:04d}" for i in range(max(n_hosts // 4, 2))], dtype=object)
    src = hosts[rng.integers(0, n_hosts, n_hops)]
    dst = hosts[rng.integers(0, n_hosts, n_hops)]
    acct = accounts[rng.integers(0, len(accounts), n_hops)]
    first = T0 + pd.to_timedelta(np.sort(rng.integers(0, 7 * 86400, n_hops)), unit="s")
    score = rng.random(n_hops).round(3)
    sev = np.select([score >= 0.7, score >= 0.4, score >= 0.2], ["high", "medium", "low"], "info")
    # events: n_evidence per hop, record ids unique per file
    n_ev = n_hops * n_evidence
    hop_of = np.repeat(np.arange(n_hops), n_evidence)
    ev_ts = first[hop_of] + pd.to_timedelta(np.tile(np.arange(n_evidence), n_hops), unit="s")
    event_ids = np.tile(np.array([4624, 5140, 5145, 7045])[:n_evidence].repeat(1), n_hops)[:n_ev]
    record_ids = np.arange(1, n_ev + 1)
    events = pd.DataFrame({c: pd.Series([None] * n_ev, dtype=object) for c in COLUMNS})
    events["ts"] = ev_ts
    events["event_id"] = event_ids
    events["channel"] = "Security"
    events["host"] = dst[hop_of]
    events["src_host"] = src[hop_of]
    events["account"] = acct[hop_of]
    events["record_id"] = record_ids
    events["source_file"] = "Security.evtx"
    events["source_format"] = "bench"
    events["service_name"] = np.where(event_ids == 7045, "PSEXESVC", None)
    events["share_name"] = np.where(event_ids == 5140, "\\\\*\\ADMIN$", None)
    events = coerce_frame(events)
    ts_list = ev_ts.to_pydatetime()
    evidence = [tuple({"event_id": int(event_ids[j]), "source_file": "Security.evtx",
                       "record_id": int(record_ids[j]), "rule": "lg.bench", "ts": ts_list[j]}
                      for j in range(i * n_evidence, (i + 1) * n_evidence)) for i in range(n_hops)]
    hops = pd.DataFrame({
        "hop_id": np.arange(n_hops), "src_host": src, "src_ip": None, "dst_host": dst, "account": acct,
        "first_seen": first, "last_seen": first + pd.Timedelta(seconds=n_evidence),
        "kinds": [("logon", "admin_share", "service_install")] * n_hops,
        "techniques": [("T1021.002",)] * n_hops, "rules": [("lg.bench",)] * n_hops,
        "evidence": evidence, "n_events": n_evidence, "score": score, "severity": sev,
    }).loc[:, list(HOP_COLUMNS)]
    graph = nx.MultiDiGraph()
    agg = hops.groupby(["src_host", "dst_host"]).agg(
        count=("hop_id", "size"), first_seen=("first_seen", "min"), score=("score", "max"),
        hop_ids=("hop_id", tuple))
    for (s, d), row in agg.iterrows():
        graph.add_edge(host_node(s), host_node(d), key="admin_share", kind="admin_share",
                       count=int(row["count"]), first_seen=row["first_seen"], score=float(row["score"]),
                       hop_ids=row["hop_ids"])
    for a in accounts:
        graph.add_node(account_node(a), kind="account")
    top = hops.sort_values("first_seen").head(n_hops // 10 * 3)
    paths = [LPath(hosts=(r.src_host, r.dst_host), accounts=(r.account,), hop_ids=(int(r.hop_id),),
                   start=r.first_seen, end=r.last_seen, score=float(r.score))
             for r in top.head(max(n_hops // 10, 1)).itertuples()]
    compromised = (hops[hops.score >= 0.4].groupby("dst_host", as_index=False)
                   .agg(first_seen=("first_seen", "min"), score=("score", "max"))
                   .rename(columns={"dst_host": "host"}))
    return AnalysisResult(events=events, report=IngestReport(), config=AnalysisConfig(), tags=pd.DataFrame(),
                          hops=hops, graph=graph, paths=paths,
                          patient_zero=[PatientZero(str(src[0]), 0.9, 0.8, first[0].to_pydatetime(),
                                                    "bench")],
                          compromised=compromised, summary={"bench": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hops", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--evidence", type=int, default=4, help="evidence events per hop (1-4)")
    parser.add_argument("--scope", choices=("suspicious", "all"), default="all")
    parser.add_argument("--formats", nargs="+", default=list(EXPORTERS))
    parser.add_argument("--memory", action="store_true",
                        help="also run each export under tracemalloc for its peak Python allocation "
                             "(a second, much slower run)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall time is shared; cpu s is this process)")
    print(f"{'hops':>8} {'format':<13} {'wall s':>8} {'cpu s':>8} {'MB out':>8} {'peak MB':>8}")
    for n in args.hops:
        result = synthetic_result(n, min(max(args.evidence, 1), 4))
        for name in args.formats:
            t, c = time.perf_counter(), time.process_time()
            data = EXPORTERS[name](result, scope=args.scope)
            secs, cpu = time.perf_counter() - t, time.process_time() - c
            peak = "-"
            if args.memory:
                tracemalloc.start()
                EXPORTERS[name](result, scope=args.scope)
                peak = f"{tracemalloc.get_traced_memory()[1] / 1e6:.1f}"
                tracemalloc.stop()
            print(f"{n:>8} {name:<13} {secs:>8.2f} {cpu:>8.2f} {len(data) / 1e6:>8.2f} {peak:>8}", flush=True)


if __name__ == "__main__":
    main()
