"""app.pipeline: inputs (frame or paths) -> AnalysisResult, and the version-2 JSON."""

from __future__ import annotations

import json

import pytest

from app.pipeline import analyze_from_events, run
from graph.config import AnalysisConfig
from graph.model import JSON_VERSION, AnalysisResult
from graph.toy import toy_events
from ingest.errors import ConfigError
from ingest.report import IngestReport

CHAIN = "A>B@0s B>C@20m:smbexec C>D@1h:write X>Y@2h:discovery"


def test_run_on_a_frame_gives_paths_patient_zero_and_graph() -> None:
    res = run(toy_events(CHAIN))
    assert isinstance(res, AnalysisResult)
    assert res.patient_zero[0].host == "A"
    assert res.paths[0].hosts == ("A", "B", "C", "D")
    assert set(res.compromised["host"]) == {"A", "B", "C", "D"}
    assert res.graph.has_edge("host:A", "host:B", key="file_write")
    assert res.summary["hops"] == 4 and res.summary["patient_zero"] == "A"
    assert res.summary["hops_by_severity"]["info"] == 1   # the discovery hop


def test_json_document_shape() -> None:
    doc = json.loads(json.dumps(run(toy_events(CHAIN)).to_json()))
    assert doc["version"] == JSON_VERSION
    assert set(doc) == {"version", "patient_zero", "hops", "findings", "paths", "compromised_hosts",
                        "routine_groups",
                        "summary"}
    hop = doc["hops"][0]
    for key in ("src_host", "dst_host", "account", "first_seen", "last_seen", "score", "severity",
                "techniques", "evidence", "reason", "routine_group"):
        assert key in hop
    assert hop["first_seen"].endswith("Z") and hop["severity"] in {"high", "medium", "low", "info"}
    assert set(hop["evidence"][0]) >= {"event_id", "source_file", "record_id", "rule"}
    assert set(doc["paths"][0]) >= {"hosts", "accounts", "start", "end", "score"}
    assert set(doc["patient_zero"][0]) >= {"host", "score", "confidence", "first_seen", "reason"}
    assert set(doc["compromised_hosts"][0]) == {"host", "first_seen", "score"}


def test_unknown_source_is_null_in_json() -> None:
    doc = run(toy_events("?>D@0s:svc")).to_json()
    assert doc["hops"][0]["src_host"] is None and doc["hops"][0]["severity"] == "medium"


def test_allowlist_and_min_score_change_the_result() -> None:
    ev = toy_events(CHAIN)
    base = analyze_from_events(ev, IngestReport())
    allowed = analyze_from_events(ev, IngestReport(), AnalysisConfig(allowlist_hosts=frozenset({"A"})))
    assert base.patient_zero[0].host == "A"
    assert allowed.hops.loc[allowed.hops.src_host == "A", "severity"].tolist() == ["info"]
    assert allowed.patient_zero[0].host != "A"
    strict = analyze_from_events(ev, IngestReport(), AnalysisConfig(min_score=0.99))
    assert strict.paths == [] and strict.patient_zero == []


def test_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        analyze_from_events(toy_events("A>B@0s"), IngestReport(), engine="nope")


def test_empty_input_gives_an_empty_result() -> None:
    res = run(toy_events("A>B@0s:guess"))
    assert res.hops.empty and res.paths == [] and res.patient_zero == []
    assert res.to_json()["hops"] == []


@pytest.mark.samples
def test_run_on_paths_reads_files(datasets) -> None:
    res = run([datasets / "otrf-security-datasets/empire_smbexec_dcerpc_smb_svcctl.zip"])
    assert res.report.files and res.summary["events"] == len(res.events) > 0
    top = res.hops.sort_values("score").iloc[-1]
    assert (top.src_host, top.dst_host, top.severity) == ("WORKSTATION5", "WORKSTATION6", "high")
