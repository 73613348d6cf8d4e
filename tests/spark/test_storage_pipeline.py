"""`latgraph analyze --engine spark` on a Parquet case: Spark reads the events itself, only hops
reach the driver, and the answer equals the pandas engine's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from app import pipeline
from app.cli import cli
from ingest.case import write_case
from ingest.synthetic import simulate

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def case_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = simulate(5, n_workstations=20, n_servers=4, days=2)
    path = tmp_path_factory.mktemp("case") / "case.parquet"
    write_case(sim.events, path)
    return path


def test_storage_inputs_are_recognised(case_file: Path, tmp_path: Path) -> None:
    assert pipeline.is_storage_input(case_file)
    assert pipeline.is_storage_input(case_file.parent)
    assert pipeline.is_storage_input("s3a://bucket/cases/x/")
    log = tmp_path / "Security.evtx"
    log.write_bytes(b"ElfFile\x00")
    assert not pipeline.is_storage_input(log)
    assert not pipeline.is_storage_input(tmp_path)


def test_storage_run_equals_pandas(spark: Any, case_file: Path) -> None:
    local = pipeline.run([case_file], engine="pandas")
    remote = pipeline.run([case_file], engine="spark")
    assert remote.summary.get("events_on") == "spark storage"
    assert remote.events.empty                      # the events stayed with Spark
    assert remote.summary["events"] == len(local.events)
    assert remote.summary["time_range"] == local.summary["time_range"]
    cols = ["src_host", "dst_host", "account", "first_seen", "score", "severity"]
    assert remote.hops[cols].equals(local.hops[cols])
    assert [p.to_dict() for p in remote.paths] == [p.to_dict() for p in local.paths]
    assert [p.to_dict() for p in remote.patient_zero] == [p.to_dict() for p in local.patient_zero]


def test_cli_spark_engine_on_case_file(spark: Any, case_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    res = CliRunner().invoke(cli, ["analyze", str(case_file), "--engine", "spark",
                                   "--spark-master", "local[2]", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    expected = pipeline.run([case_file]).to_json()
    assert doc["summary"]["engine"] == "spark"
    assert doc["summary"]["events"] == expected["summary"]["events"]
    assert doc["patient_zero"] == expected["patient_zero"]
    assert doc["paths"] == expected["paths"]


def test_spark_engine_streams_lanl_auth_txt(spark: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """``--engine spark`` on LANL auth.txt(.gz): the lines are streamed (and collapsed) into a
    temporary case file Spark reads itself; the answer equals the pandas engine's on the same lines."""
    from ingest.synthetic.auth_enterprise import START, simulate_auth, write_lanl_lines

    monkeypatch.setenv("LATGRAPH_LANL_EPOCH", START.isoformat())
    sim = simulate_auth(3, n_hosts=80, days=4)
    auth, red, lines = write_lanl_lines(sim, tmp_path, 4 * len(sim.rows), seed=3, gz=True)
    assert pipeline.all_lanl([auth, red]) and not pipeline.all_lanl([auth, tmp_path / "none.evtx"])
    local = pipeline.run([auth], engine="pandas")
    remote = pipeline.run([auth, red], engine="spark")
    assert remote.summary["events_on"].startswith("spark storage (auth.txt streamed")
    assert remote.summary["events"] == local.summary["events"] == lines
    assert remote.report.kept == lines and remote.report.files[0].format == "lanl"
    assert remote.summary["time_range"] == local.summary["time_range"]
    cols = ["src_host", "dst_host", "account", "first_seen", "last_seen", "n_events", "score", "severity"]
    assert len(local.hops) > 20 and remote.hops[cols].equals(local.hops[cols])
    assert [p.to_dict() for p in remote.patient_zero] == [p.to_dict() for p in local.patient_zero]
    assert remote.patient_zero and remote.patient_zero[0].host == sim.truth.patient_zero


def test_storage_run_reports_the_pandas_findings(spark: Any, tmp_path: Path) -> None:
    """`analyze --engine spark` on a stored case: the same findings (and JSON) as pandas, e.g. the
    Atomic Red Team loopback tests at LAB-WIN10 (issue #11)."""
    from tests.spark.test_equivalence import _technique_events

    case = write_case(_technique_events(), tmp_path / "case.parquet")
    local = pipeline.run([case], engine="pandas").to_json()
    remote = pipeline.run([case], engine="spark").to_json()
    assert remote["summary"]["events_on"] == "spark storage" and "findings_skipped" not in remote["summary"]
    assert remote["findings"] == local["findings"] and len(local["findings"]) >= 4
    assert remote["summary"]["findings_by_level"] == local["summary"]["findings_by_level"]
    assert remote["hops"] == local["hops"]
