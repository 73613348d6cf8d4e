"""Hand-made AnalysisResult objects for the UI tests and ``bench/ui.py``.

They follow the contract in ``graph/model.py`` (HOP_COLUMNS, Path, PatientZero, compromised frame)
without running the analysis, so the UI can be tested on its own:

* ``WS0007`` is patient zero; the attack spreads WS0007 -> SRV001 -> SRV002 -> DC01 and from
  SRV001 to a few more workstations (high/medium hops, service installs), as ``adm_eve``.
* ``SCCM01`` (software deployment) touches every workstation with low-scoring hops as ``svc_deploy``.
* Background logons between random workstations score info/low.
* ``payload`` puts an attacker-style string into one host name and one account name.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import networkx as nx
import pandas as pd

from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult, PatientZero
from graph.model import Path as GPath
from ingest.report import IngestReport
from ingest.schema import Event, to_frame
from tests.conftest import T0

PATIENT_ZERO = "WS0007"
ATTACK_CHAIN = ("WS0007", "SRV001", "SRV002", "DC01")
ATTACKER = "adm_eve"


def _severity(score: float) -> str:
    return "high" if score >= 0.7 else "medium" if score >= 0.4 else "low" if score >= 0.2 else "info"


def spread_result(n_hosts: int = 40, *, seed: int = 1, payload: str | None = None) -> AnalysisResult:
    """A result for an enterprise of about ``n_hosts`` hosts (see the module docstring)."""
    rng = random.Random(seed)
    n_ws = max(8, n_hosts - 6)
    ws = [f"WS{i:04d}" for i in range(n_ws)]
    evil_host = f"WS9999{payload}" if payload else None
    evil_account = f"user{payload}" if payload else None
    rows: list[dict] = []

    def hop(src: str | None, dst: str, account: str, t: pd.Timestamp, score: float,
            kinds: tuple[str, ...]) -> None:
        hop_id = len(rows)
        rows.append({
            "hop_id": hop_id, "src_host": src, "src_ip": None if src else f"10.0.9.{hop_id % 250}",
            "dst_host": dst, "account": account, "first_seen": t, "last_seen": t + timedelta(seconds=20),
            "kinds": kinds, "techniques": ("T1021.002",) if "admin_share" in kinds else (),
            "rules": tuple(f"lg_{k}" for k in kinds),
            "evidence": tuple({"event_id": eid, "source_file": f"{dst}-Security.evtx",
                               "record_id": 1000 + hop_id * 10 + i, "rule": f"lg_{kinds[0]}",
                               "ts": t + timedelta(seconds=i)}
                              for i, eid in enumerate((4624, 5140, 7045)[: 1 + len(kinds) // 2])),
            "n_events": 1 + len(kinds) // 2, "score": score, "severity": _severity(score)})

    attack = ("logon", "admin_share", "file_write", "service_install", "execution")
    t = pd.Timestamp(T0) + timedelta(days=2)
    for a, b in itertools.pairwise(ATTACK_CHAIN):
        t += timedelta(minutes=25)
        hop(a, b, ATTACKER, t, 0.92, attack)
    for i, w in enumerate(rng.sample(ws[10:], min(5, len(ws) - 10))):
        hop("SRV001", w, ATTACKER, pd.Timestamp(T0) + timedelta(days=2, hours=1, minutes=7 * i), 0.61,
            ("logon", "admin_share", "service_install"))
    for i, w in enumerate(ws):
        hop("SCCM01", w, "svc_deploy", pd.Timestamp(T0) + timedelta(hours=i % 48), 0.22,
            ("logon", "admin_share", "file_write"))
    for i in range(n_ws // 2):
        a, b = rng.sample(ws, 2)
        hop(a, b, f"user{rng.randrange(max(2, n_ws // 5))}", pd.Timestamp(T0) + timedelta(minutes=13 * i),
            round(rng.uniform(0.0, 0.3), 3), ("logon",))
    hop(None, "SRV003", ATTACKER, pd.Timestamp(T0) + timedelta(days=2, hours=2), 0.55,
        ("logon", "admin_share"))
    if payload:
        hop(evil_host, "SRV002", evil_account, pd.Timestamp(T0) + timedelta(days=2, hours=3), 0.81,
            ("logon", "admin_share", "service_install"))

    hops = pd.DataFrame(rows, columns=list(HOP_COLUMNS))
    hops["first_seen"] = pd.to_datetime(hops["first_seen"], utc=True)
    hops["last_seen"] = pd.to_datetime(hops["last_seen"], utc=True)
    for col in ("src_host", "src_ip", "dst_host", "account", "severity"):
        hops[col] = hops[col].astype("string")

    bad = hops[hops["score"] >= 0.4]
    firsts = bad.groupby("dst_host")["first_seen"].min()
    comp = pd.DataFrame({"host": [PATIENT_ZERO, *firsts.index],
                         "first_seen": [bad["first_seen"].min() - timedelta(minutes=1), *firsts.array],
                         "score": [0.95, *bad.groupby("dst_host")["score"].max().values]})
    comp["first_seen"] = pd.to_datetime(comp["first_seen"], utc=True)

    chain_ids = tuple(int(h) for h in hops.index[: len(ATTACK_CHAIN) - 1])
    chain = hops.loc[list(chain_ids)]
    paths = [GPath(hosts=ATTACK_CHAIN, accounts=(ATTACKER,) * len(chain_ids), hop_ids=chain_ids,
                   start=chain["first_seen"].min(), end=chain["last_seen"].max(), score=0.9)]
    side = hops[(hops["src_host"] == "SRV001") & (hops["score"] > 0.6) & (hops["dst_host"] != "SRV002")]
    for hid in side.index[:3]:
        paths.append(GPath(hosts=("WS0007", "SRV001", str(hops.at[hid, "dst_host"])),
                           accounts=(ATTACKER, ATTACKER), hop_ids=(chain_ids[0], int(hid)),
                           start=hops.at[chain_ids[0], "first_seen"], end=hops.at[hid, "last_seen"],
                           score=0.7))
    pz = [PatientZero(host=PATIENT_ZERO, score=0.95, confidence=0.9, first_seen=comp["first_seen"].iloc[0],
                      reason="earliest host with outgoing high-scoring admin-share hops that explain "
                             "the spread to SRV001, SRV002 and DC01; no suspicious hop into it before",
                      hop_ids=chain_ids[:1]),
          PatientZero(host="SCCM01", score=0.2, confidence=0.05, first_seen=pd.Timestamp(T0),
                      reason="deployment server touching every workstation daily (habitual administration)")]

    events = to_frame(
        Event(ts=r["first_seen"].to_pydatetime(), event_id=4624, channel="Security", host=str(r["dst_host"]),
              src_host=None if pd.isna(r["src_host"]) else str(r["src_host"]), dst_host=str(r["dst_host"]),
              account=str(r["account"]), logon_type=3, logon_id=f"0x{1000 + r['hop_id']:x}",
              record_id=1000 + r["hop_id"] * 10, source_file=f"{r['dst_host']}-Security.evtx",
              source_format="test")
        for r in hops.to_dict("records"))
    graph = nx.MultiDiGraph()
    for r in hops.to_dict("records"):
        src = r["src_host"] if isinstance(r["src_host"], str) else r["src_ip"]
        graph.add_edge(f"host:{src}", f"host:{r['dst_host']}", kind="logon", count=1)
    report = IngestReport()
    fr = report.add("fixture.evtx", "test")
    fr.records_read = fr.kept = len(events)
    fr.skip("malformed record", "fixture.evtx record 3: truncated XML")
    summary = {"events": len(events), "hops": len(hops), "hosts": len(set(hops["dst_host"]))}
    return AnalysisResult(events=events, report=report, config=AnalysisConfig(), tags=pd.DataFrame(),
                          hops=hops, graph=graph, paths=paths, patient_zero=pz, compromised=comp,
                          summary=summary)
