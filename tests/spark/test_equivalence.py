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


def test_generated_enterprise_same_result(spark) -> None:
    sim = simulate(3, n_workstations=12, n_servers=3, days=2)
    # a tighter fan-out threshold and evidence cap so those code paths decide something here
    config = AnalysisConfig(fanout_hosts=3, max_evidence_per_hop=3)
    result = _assert_same(sim.events, config)
    assert len(result.hops) > 20 and result.patient_zero     # the comparison was not vacuous
    assert result.patient_zero[0].host == sim.truth.patient_zero


@pytest.mark.samples
def test_real_samples_same_result(spark, sample_events) -> None:
    result = _assert_same(sample_events, AnalysisConfig())
    assert (result.hops["severity"].isin(["high", "medium"])).sum() > 5
