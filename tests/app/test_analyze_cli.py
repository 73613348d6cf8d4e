"""``latgraph analyze`` and ``latgraph rules`` through click's runner (real pipeline, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import cli
from app.pipeline import analyze_from_events
from graph.rules import RULES
from graph.toy import toy_events
from ingest.case import write_case
from ingest.report import IngestReport
from ingest.schema import coerce_frame
from tests.conftest import events_frame, make_event


@pytest.fixture
def case(tmp_path: Path) -> Path:
    path = tmp_path / "case.parquet"
    write_case(toy_events("A>B@0s B>C@20m:smbexec C>D@1h:write"), path)
    return path


def test_analyze_prints_summary_and_writes_json(case: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["analyze", str(case), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "Patient zero" in res.output and "1. A " in res.output
    assert "A -> B -> C -> D" in res.output and "HIGH hops" in res.output
    doc = json.loads(out.read_text())
    assert doc["version"] == 2 and doc["patient_zero"][0]["host"] == "A"


def test_fail_on_high_exit_status(case: Path) -> None:
    assert CliRunner().invoke(cli, ["analyze", str(case), "--fail-on", "high"]).exit_code == 4
    res = CliRunner().invoke(cli, ["analyze", str(case), "--fail-on", "high", "--allow-host", "a",
                                   "--allow-host", "b", "--allow-host", "c"])
    assert res.exit_code == 0, res.output


def test_min_score_and_max_gap_options(case: Path) -> None:
    res = CliRunner().invoke(cli, ["analyze", str(case), "--json", "-", "--max-gap", "0.1"])
    doc = json.loads(res.stdout)
    assert ["A", "B", "C", "D"] not in [p["hosts"] for p in doc["paths"]]   # 1 h gap > 0.1 h
    res = CliRunner().invoke(cli, ["analyze", str(case), "--json", "-", "--min-score", "1"])
    assert json.loads(res.stdout)["paths"] == []


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["analyze", str(tmp_path / "nope.evtx")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_rules_lists_every_rule() -> None:
    res = CliRunner().invoke(cli, ["rules"])
    assert res.exit_code == 0
    assert all(rid in res.output for rid in RULES)
    doc = json.loads(CliRunner().invoke(cli, ["rules", "--json"]).output)
    assert {r["id"] for r in doc} == set(RULES) and all("condition" in r for r in doc)


@pytest.mark.samples
def test_analyze_real_sample(datasets: Path) -> None:
    path = datasets / "evtx-to-mitre-attack/ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx"
    res = CliRunner().invoke(cli, ["analyze", str(path), "--json", "-"])
    doc = json.loads(res.stdout)
    hop = max(doc["hops"], key=lambda h: h["score"])
    assert (hop["src_host"], hop["dst_host"], hop["severity"]) == ("WEC01", "SRVDEFENDER01", "high")
    assert any(e["event_id"] == 4697 for e in hop["evidence"])


@pytest.mark.parametrize("rows", [0, 1, 3, 2000])
def test_json_written_piece_by_piece_is_the_whole_document(tmp_path: Path, rows: int) -> None:
    """``json_chunks`` (what ``--json`` writes) joins to exactly ``json.dumps(to_json())``, with
    hops, findings, hostile and non-ASCII names; the CLI's file and stdout carry that text."""
    sys32 = "C:\\Windows\\System32\\"
    own = make_event(event_id=4688, host="PC01", subject_account="adm", process=sys32 + "net.exe",
                     parent_process=sys32 + "cmd.exe", command_line="net use \\\\PC01\\C$ /u:corp\\adm pw")
    toy = toy_events('A>B@0s B>C@20m:smbexec C>D@1h:write X>B@3h:logon/évil"\x9b;x')
    both = pd.concat([toy, events_frame(own)], ignore_index=True)
    events = coerce_frame(both.sort_values("ts", kind="stable").reset_index(drop=True))
    result = analyze_from_events(events, IngestReport())
    assert len(result.hops) >= 4 and result.findings is not None and len(result.findings) >= 1
    whole = json.dumps(result.to_json(), indent=1, ensure_ascii=False)
    assert "".join(result.json_chunks(rows=rows)) == whole

    empty = analyze_from_events(toy_events("A>A@0s:session"), IngestReport())
    assert "".join(empty.json_chunks(rows=rows)) == json.dumps(empty.to_json(), indent=1, ensure_ascii=False)

    case = tmp_path / "case.parquet"
    write_case(events, case)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(cli, ["analyze", str(case), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8") == json.dumps(json.loads(out.read_text(encoding="utf-8")),
                                                         indent=1, ensure_ascii=False) + "\n"
    res = CliRunner().invoke(cli, ["analyze", str(case), "--json", "-"])
    assert res.exit_code == 0
    on_stdout, in_file = json.loads(res.stdout), json.loads(out.read_text(encoding="utf-8"))
    assert {**on_stdout, "summary": None} == {**in_file, "summary": None}   # the summary has timings
    assert "\x9b" not in res.stdout and "\\u009b" in res.stdout   # terminal-safe on stdout
