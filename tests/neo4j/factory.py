"""Hand-made hops frames (HOP_COLUMNS) for the store tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pandas as pd

from graph.model import HOP_COLUMNS
from tests.conftest import T0


def ev(event_id: int, record_id: int, at_s: float, source_file: str = "case.evtx",
       rule: str = "admin_share_access") -> dict[str, Any]:
    """One evidence dict at T0 + ``at_s`` seconds."""
    return {"event_id": event_id, "source_file": source_file, "record_id": record_id, "rule": rule,
            "ts": pd.Timestamp(T0 + timedelta(seconds=at_s))}


def hop(src: str | None, dst: str, account: str | None, evidence: Iterable[dict[str, Any]], *,
        kinds: tuple[str, ...] = ("logon", "admin_share"), score: float = 0.8, severity: str = "high",
        src_ip: str | None = None, techniques: tuple[str, ...] = ("T1021.002",),
        n_events: int | None = None) -> dict[str, Any]:
    """One hop row; times and n_events follow from the evidence."""
    evidence = tuple(evidence)
    times = [e["ts"] for e in evidence]
    return {"src_host": src, "src_ip": src_ip, "dst_host": dst, "account": account,
            "first_seen": min(times), "last_seen": max(times), "kinds": kinds, "techniques": techniques,
            "rules": tuple(sorted({e["rule"] for e in evidence})), "evidence": evidence,
            "n_events": len(evidence) if n_events is None else n_events, "score": score,
            "severity": severity}


def hops_frame(*hops: dict[str, Any]) -> pd.DataFrame:
    """A hops frame with HOP_COLUMNS and the dtypes of the analysis."""
    frame = pd.DataFrame([{"hop_id": i, **h} for i, h in enumerate(hops)], columns=list(HOP_COLUMNS))
    for col in ("first_seen", "last_seen"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    for col in ("src_host", "src_ip", "dst_host", "account", "severity"):
        frame[col] = frame[col].astype("string")
    return frame


def chain_case() -> pd.DataFrame:
    """WS01 -> SRV01 -> SRV02 -> DC01 by one admin, a hop known by source IP only, one with no source."""
    return hops_frame(
        hop("WS01", "SRV01", "admin", [ev(4624, 1, 0), ev(5145, 2, 5)]),
        hop("SRV01", "SRV02", "admin", [ev(4624, 10, 600), ev(7045, 11, 620)],
            kinds=("logon", "service_install"), techniques=("T1021.002", "T1569.002")),
        hop("SRV02", "DC01", "admin", [ev(4624, 20, 1200)], kinds=("logon",), score=0.6,
            severity="medium"),
        hop(None, "SRV01", "svc_backup", [ev(4624, 30, 50)], kinds=("logon",), score=0.2,
            severity="low", src_ip="10.0.0.99"),
        hop(None, "SRV02", "system", [ev(7045, 40, 650)], kinds=("service_install",), score=0.5,
            severity="medium"),
    )
