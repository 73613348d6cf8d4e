"""Stable scores (issue 12): a hop's score and severity do not change because unrelated data is
loaded beside it (graph.scoring.environment: every baseline is per environment).

* real data: the OTRF multi-host Empire PsExec recording alone, and with unrelated EVTX samples
  from other labs and years loaded beside it;
* generated: an enterprise alone, and with another enterprise beside it -- once a month later
  with the same host and account names, once in the same days with its own host names (the same
  service / admin account names on both sides). B has its own address space in both: IP -> host
  hints are case-wide by default (``ip_hints_by_day``, docs/analysis.md section 9), so a B that
  reuses A's DHCP addresses could rename A's IP-only sources before any score is computed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import analyze_from_events, run
from ingest.report import IngestReport
from ingest.synthetic import simulate
from tests.conftest import datasets_or_skip

KEY = ["src_host", "src_ip", "dst_host", "account", "first_seen"]
SIZE = {"n_workstations": 30, "n_servers": 4, "days": 3}


def _keyed(hops: pd.DataFrame) -> pd.DataFrame:
    k = hops[KEY].astype(object).where(hops[KEY].notna(), None)
    return hops.assign(key=list(zip(*(k[c] for c in KEY), strict=True))).set_index("key")


def assert_same_scores(alone: pd.DataFrame, together: pd.DataFrame) -> None:
    """Every hop of ``alone`` is in ``together`` with the same score and severity."""
    a, t = _keyed(alone), _keyed(together)
    assert a.index.is_unique
    missing = [k for k in a.index if k not in t.index]
    assert not missing, f"hops of A changed shape when B was loaded: {missing[:3]}"
    t = t.loc[a.index]
    moved = (a["severity"] != t["severity"]).to_numpy() | ((a["score"] - t["score"]).abs() > 1e-9).to_numpy()
    changed = a[moved]
    assert changed.empty, "scores of A moved with B loaded: " + "; ".join(
        f"{k}: {a.loc[[k], 'score'].item():.3f} {a.loc[[k], 'severity'].item()} -> "
        f"{t.loc[[k], 'score'].item():.3f} {t.loc[[k], 'severity'].item()}" for k in changed.index[:5])


REAL_A = "otrf-security-datasets/empire_psexec_dcerpc_tcp_svcctl.zip"
REAL_B = ("omerbenamram-evtx-samples/security.evtx", "velocidex-evtx-testdata/Security.evtx",
          "evtx-attack-samples/LM_wmiexec_impacket_sysmon_whoami.evtx",
          "evtx-to-mitre-attack/ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx",
          "deepbluecli/metasploit-psexec-native-target-security.evtx")


@pytest.mark.samples
def test_real_recording_scores_do_not_move_with_unrelated_recordings_beside_it() -> None:
    root = datasets_or_skip()
    alone = run([root / REAL_A]).hops
    assert len(alone) and alone["severity"].isin(["medium", "high"]).any()
    together = run([root / REAL_A, *(root / b for b in REAL_B)]).hops
    assert len(together) > len(alone)
    assert_same_scores(alone, together)


def _shifted(events: pd.DataFrame, days: int) -> pd.DataFrame:
    return events.assign(ts=events["ts"] + pd.Timedelta(days=days))


def _own_addresses(events: pd.DataFrame) -> pd.DataFrame:
    """Another enterprise's address space (10.x -> 172.x)."""
    out = events.copy()
    for col in ("src_ip", "dst_ip"):
        if col in out:
            out[col] = out[col].astype("string").str.replace(r"^10\.", "172.", regex=True)
    return out


def _renamed(events: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Another enterprise: host names prefixed, its own address space (10.x -> 172.x)."""
    out = _own_addresses(events)
    for col in ("host", "src_host", "dst_host"):
        if col in out:
            v = out[col]
            out[col] = v.where(v.isna() | v.astype(str).str.fullmatch(r"[\d.:]+|-|localhost", case=False),
                               prefix + v.astype(str))
    for col in ("command_line", "pipe_name", "relative_target"):
        if col in out and out[col].notna().any():
            pattern = r"\\\\(WS|FS|SQL|WEB|APP|DC|SCCM|BKP|MON)"
            out[col] = out[col].astype("string").str.replace(pattern, lambda m: "\\\\" + prefix + m.group(1),
                                                             regex=True)
    return out


def _analyse(events: pd.DataFrame) -> pd.DataFrame:
    return analyze_from_events(events.sort_values("ts", kind="stable").reset_index(drop=True),
                               IngestReport()).hops


@pytest.mark.parametrize("scenario", ["standard", "deploy-server"])
def test_generated_case_scores_do_not_move_with_another_enterprise_a_month_later(scenario: str) -> None:
    a = simulate(3, scenario=scenario, **SIZE).events
    b = _own_addresses(_shifted(simulate(4, scenario=scenario, **SIZE).events, 35))
    alone = _analyse(a)
    assert alone["severity"].isin(["high"]).any()
    assert_same_scores(alone, _analyse(pd.concat([a, b], ignore_index=True)))


def test_generated_case_scores_do_not_move_with_another_enterprise_in_the_same_days() -> None:
    a = simulate(5, **SIZE).events
    b = _renamed(simulate(6, **SIZE).events, "B")
    alone = _analyse(a)
    together = _analyse(pd.concat([a, b], ignore_index=True))
    assert together["dst_host"].astype(str).str.startswith("B").any()
    assert_same_scores(alone, together)


def test_environment_rule_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "analysis.md").read_text(encoding="utf-8")
    assert "environment_gap_s" in doc and "connected component" in doc
