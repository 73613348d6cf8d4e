"""Both engines on the same events give the same AnalysisResult: hops (every column, dtype and
hop_id), tags, scores and severities, paths, compromised hosts and patient zero."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from app.pipeline import analyze_from_events
from graph.config import AnalysisConfig
from graph.model import AnalysisResult
from ingest.report import IngestReport
from ingest.synthetic import simulate

pytestmark = pytest.mark.spark


def _json(result: AnalysisResult) -> dict[str, Any]:
    doc = result.to_json()
    doc["summary"] = {k: v for k, v in doc["summary"].items() if k not in ("engine", "timings")}
    return doc


def _assert_same(events: pd.DataFrame, config: AnalysisConfig) -> AnalysisResult:
    want = analyze_from_events(events, IngestReport(), config, engine="pandas")
    got = analyze_from_events(events, IngestReport(), config, engine="spark")
    assert got.summary["engine"] == "spark"
    pd.testing.assert_frame_equal(got.tags, want.tags)
    pd.testing.assert_frame_equal(got.hops, want.hops)        # exact: ids, times, tuples, floats
    assert got.paths == want.paths
    assert got.patient_zero == want.patient_zero
    pd.testing.assert_frame_equal(got.compromised, want.compromised)
    assert _json(got) == _json(want)
    return want


def test_generated_enterprise_same_result(spark, correlation) -> None:
    sim = simulate(3, n_workstations=12, n_servers=3, days=2)
    # a tighter fan-out threshold and evidence cap so those code paths decide something here
    config = AnalysisConfig(fanout_hosts=3, max_evidence_per_hop=3)
    result = _assert_same(sim.events, config)
    assert len(result.hops) > 20 and result.patient_zero     # the comparison was not vacuous
    assert result.patient_zero[0].host == sim.truth.patient_zero


@pytest.mark.samples
def test_real_samples_same_result(spark, sample_events, correlation) -> None:
    result = _assert_same(sample_events, AnalysisConfig())
    assert (result.hops["severity"].isin(["high", "medium"])).sum() > 5


def test_from_cluster_storage_same_hops(spark, tmp_path, correlation) -> None:
    """The cluster path: Spark reads the case file itself; only hops come back."""
    from graph.engine import hop_stage, pandas_event_stage
    from graph.spark.stage import event_stage_from_storage
    from graph.toy import toy_events
    from ingest.case import write_case

    events = toy_events("A>B@0s:psexec B>C@10m:psexec C>D@20m:smbexec ?>E@1h:svc X>Y@2h:netuse "
                        "A>F@3h:discovery A>G@3h:guess")
    case = write_case(events, tmp_path / "case.parquet")
    config = AnalysisConfig()
    want = pandas_event_stage(events, config).hops
    got = event_stage_from_storage(spark, str(case), config)
    pd.testing.assert_frame_equal(got, want)
    assert len(want) >= 5
    a, b = hop_stage(got, config), hop_stage(want, config)
    assert a.patient_zero == b.patient_zero and a.paths == b.paths


def test_technique_fixtures_same_result(spark) -> None:
    """Loopback tests (self-aimed anchors), target-only stagers, registry-only services, a service
    burst: the placement and session-join rules both engines must apply alike (issue #11)."""
    from pathlib import Path

    from ingest import load_events

    data = Path(__file__).resolve().parents[1] / "data" / "techniques"
    events, _ = load_events(sorted(data.glob("*.xml")) + sorted(data.glob("*.mde.csv")))
    result = _assert_same(events, AnalysisConfig())
    assert len(result.hops) >= 2 and len(result.findings) >= 4


def test_dc_only_log_same_result(spark, tmp_path) -> None:
    """Brokered DC evidence (4768 IP hints, 4769 client -> service host) places the same hops."""
    from ingest import load_events
    from tests.ingest.test_dc_auth import write_dc_log

    events, _ = load_events([write_dc_log(tmp_path)], workers=1)
    result = _assert_same(events, AnalysisConfig())
    assert len(result.hops) == 3


def test_auth_only_dc_profile_same_result(spark) -> None:
    """A generated enterprise seen only through one DC's 4768/4769/4776: users' sessions, their NTLM
    credential uses (4776, no server named) and the authentication signals built on them agree."""
    from ingest.synthetic.auth_enterprise import dc_events, simulate_auth

    events = dc_events(simulate_auth(5, n_hosts=60, days=4, stealthy=True))
    assert (events["event_id"] == 4776).any()
    result = _assert_same(events, AnalysisConfig())
    assert (result.hops["auth"] > 0).any() and result.hops["auth_signals"].map(len).gt(0).any()


def _technique_events() -> pd.DataFrame:
    """The Atomic Red Team T1021.002 loopback tests, a 4688-only psexec_psh target and a
    registry-only service (Windows XML and Defender CSV) with a generated enterprise around them:
    self-aimed findings and a `net use` towards a host without logs beside real hops."""
    from datetime import timedelta
    from pathlib import Path

    from ingest import load_events
    from ingest.schema import coerce_frame
    from tests.conftest import T0, events_frame, make_event

    data = Path(__file__).resolve().parents[1] / "data" / "techniques"
    fixtures, _ = load_events(sorted(data.glob("*.xml")) + sorted(data.glob("*.mde.csv")))
    sim = simulate(4, n_workstations=10, n_servers=3, days=1)
    net = r"C:\Windows\System32\net.exe"
    # `net use` from WS50 to SRV60, whose only event no rule tags (it logged, so a plain hop), and
    # to FS99, which logged nothing (a hop and a "destination has no logs" finding): the findings
    # need every logging host, not only the tagged events' hosts
    extra = events_frame(*(
        make_event(ts=T0 + timedelta(minutes=m), event_id=4688, host="WS50", process=net,
                   parent_process=r"C:\Windows\System32\cmd.exe", subject_account="adm", logon_id="0x77",
                   command_line=f"net use \\\\{dst}\\C$ /user:corp\\adm", record_id=900 + m)
        for m, dst in ((1, "SRV60"), (2, "FS99"))),
        make_event(ts=T0, event_id=1, channel="Sysmon", host="SRV60", process=r"C:\Windows\notepad.exe",
                   record_id=950))
    parts = [sim.events, fixtures, extra]
    both = pd.concat([p.astype({"channel": "string", "source_format": "string"}) for p in parts],
                     ignore_index=True)
    return coerce_frame(both.sort_values("ts", kind="stable").reset_index(drop=True))


def test_storage_findings_equal_pandas(spark, tmp_path, correlation) -> None:
    """Spark reading the case itself reports the pandas engine's findings (issue #11): only the
    tagged events, the IP/name pair counts and the logging hosts reach the driver."""
    from graph.engine import pandas_event_stage
    from graph.spark.stage import storage_event_stage
    from ingest.case import write_case

    events = _technique_events()
    case = write_case(events, tmp_path / "case.parquet")
    config = AnalysisConfig()
    want = pandas_event_stage(events, config)
    got = storage_event_stage(spark, str(case), config)
    assert got.findings_skipped is None and got.stage.tags is None
    pd.testing.assert_frame_equal(got.hops, want.hops)
    pd.testing.assert_frame_equal(got.stage.findings, want.findings)
    found = want.findings
    assert set(found["reason"]) == {"aimed at this host", "destination has no logs"}   # not vacuous
    assert (found["host"] == "LAB-WIN10").sum() >= 4 and len(want.hops) > 10
    assert found.loc[found["reason"] == "destination has no logs", "fields"].map(
        lambda f: "FS99" in f["command_line"]).all()
    # what reaches the driver for them: the tagged events, a part of the case
    assert want.tags["event_index"].nunique() < len(events)


def test_storage_findings_are_bounded(spark, tmp_path) -> None:
    from graph.spark.stage import storage_event_stage
    from ingest.case import write_case

    case = write_case(_technique_events(), tmp_path / "case.parquet")
    got = storage_event_stage(spark, str(case), AnalysisConfig(), max_finding_rows=10)
    assert got.stage.findings is None and "more than the 10 collected" in (got.findings_skipped or "")
    assert len(got.hops) > 10
