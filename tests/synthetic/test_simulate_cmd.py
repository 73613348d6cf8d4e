"""``latgraph simulate``: the files it writes and its messages."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest.case import read_case
from ingest.synthetic import simulate


def test_simulate_writes_case_and_truth(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["simulate", "--seed", "4", "--out", str(out),
                                      "--workstations", "20", "--servers", "4", "--days", "2"])
    assert result.exit_code == 0, result.output
    events = read_case(out / "events" / "case.parquet")
    expected = simulate(4, n_workstations=20, n_servers=4, days=2)
    pd.testing.assert_frame_equal(events, expected.events)
    truth = json.loads((out / "truth.json").read_text())
    assert truth["patient_zero"] == expected.truth.patient_zero
    assert len(truth["hops"]) == len(expected.truth.hops)
    assert "patient zero" in result.output


def test_simulate_rejects_tiny_enterprise(tmp_path):
    result = CliRunner().invoke(cli, ["simulate", "--out", str(tmp_path), "--workstations", "2"])
    assert result.exit_code == 2
    assert "--workstations" in result.output


def test_simulate_writes_input_formats(tmp_path):
    pytest.importorskip("ingest.writers", reason="ingest.writers not in this build")
    out = tmp_path / "fmt"
    result = CliRunner().invoke(cli, ["simulate", "--seed", "5", "--out", str(out), "--workstations", "12",
                                      "--servers", "3", "--days", "1", "--format", "all"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "formats").iterdir())
    assert names == ["events.mde-csv.csv", "events.mde.jsonl", "events.otrf.jsonl",
                     "events.winlogbeat.jsonl", "events.xml.xml"]
