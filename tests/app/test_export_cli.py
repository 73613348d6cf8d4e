"""Tests of ``latgraph export`` through click's CliRunner: listing, usage errors, and real runs of
the whole pipeline on real data-set files (skipped with a reason when ../shared/datasets or the
pipeline is absent), every output parsed back."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from app.cli import cli
from app.exports import EXPORTERS
from tests.conftest import load_labels

# a multi-host case with a known source (Empire invoke_psexec WORKSTATION5 -> WORKSTATION6)
# and a single-host PsExec target log (LABELS.json)
EMPIRE = "otrf-security-datasets/empire_psexec_dcerpc_tcp_svcctl.zip"
PSEXEC = "evtx-to-mitre-attack/ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx"


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_list_formats_lists_the_registry() -> None:
    res = _invoke("export", "--list-formats")
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert [line.split()[0] for line in lines] == list(EXPORTERS)
    assert all(EXPORTERS[line.split()[0]].description in line for line in lines)


@pytest.mark.parametrize(("args", "message"), [
    ((), "give at least one INPUT"),
    (("{file}", "--from-result", "{file}", "-f", "csv"), "not both"),
    (("{file}",), "choose --format"),
    (("{file}", "-f", "all"), "--format all writes several files"),
    (("{file}", "-f", "pdf"), "'pdf' is not one of"),
    (("{file}", "-f", "csv", "--scope", "some"), "'some' is not one of"),
    (("{file}", "-f", "csv", "--min-score", "1.5"), "1.5 is not in the range"),
])
def test_usage_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    log = tmp_path / "x.evtx"
    log.write_bytes(b"")
    res = CliRunner().invoke(cli, ["export", *(a.format(file=log) for a in args)])
    assert res.exit_code == 2
    assert message in res.output


def _pipeline_or_skip() -> None:
    if importlib.util.find_spec("app.pipeline") is None:
        pytest.skip("app.pipeline (the analysis run) is not written yet")


@pytest.fixture
def empire(datasets: Path) -> Path:
    _pipeline_or_skip()
    return datasets / EMPIRE


@pytest.mark.samples
def test_export_all_formats_on_a_real_case(empire: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["export", str(empire), "-f", "all", "-o", str(out)])
    assert res.exit_code == 0, res.output
    files = {p.name for p in out.iterdir()}
    assert files == {e.filename() for e in EXPORTERS.values()}
    doc = json.loads((out / EXPORTERS["json"].filename()).read_text())
    assert doc["version"] == 2
    hops = list(csv.DictReader(io.StringIO((out / EXPORTERS["csv"].filename()).read_text(), newline="")))
    suspicious = [h for h in doc["hops"] if h["score"] >= 0.4]
    assert len(hops) == len(suspicious)
    assert any(h["dst_host"] == "WORKSTATION6" for h in hops), "the labelled destination is exported"
    g = nx.read_graphml(out / EXPORTERS["graphml"].filename(), force_multigraph=True)
    assert "host:WORKSTATION6" in g
    og = json.loads((out / EXPORTERS["opengraph"].filename()).read_text())
    assert "host:WORKSTATION6" in {n["id"] for n in og["graph"]["nodes"]}
    lines = (out / EXPORTERS["timesketch"].filename()).read_text().splitlines()
    assert lines and all({"message", "datetime", "timestamp_desc"} <= json.loads(x).keys() for x in lines)
    html = (out / EXPORTERS["html"].filename()).read_text()
    assert "WORKSTATION6" in html and "<script" not in html.lower()


@pytest.mark.samples
def test_export_json_equals_the_analysis_document(empire: Path) -> None:
    from app import pipeline
    from graph.config import AnalysisConfig

    res = CliRunner().invoke(cli, ["export", str(empire), "-f", "json"])
    assert res.exit_code == 0
    exported = json.loads(res.stdout)
    expected = json.loads(json.dumps(pipeline.run([empire], config=AnalysisConfig()).to_json()))
    # the summary may hold run timings; everything else is deterministic
    exported.pop("summary")
    expected.pop("summary")
    assert exported == expected


@pytest.mark.samples
def test_min_score_filters_the_csv(empire: Path) -> None:
    low = CliRunner().invoke(cli, ["export", str(empire), "-f", "csv", "--scope", "all"]).stdout
    high = CliRunner().invoke(cli, ["export", str(empire), "-f", "csv", "--min-score", "0.7"]).stdout
    rows_all = list(csv.DictReader(io.StringIO(low, newline="")))
    rows_high = list(csv.DictReader(io.StringIO(high, newline="")))
    assert all(float(r["score"]) >= 0.7 for r in rows_high)
    assert len(rows_high) == sum(float(r["score"]) >= 0.7 for r in rows_all)


def test_unreadable_input_is_a_clear_error(tmp_path: Path) -> None:
    _pipeline_or_skip()
    bad = tmp_path / "not-a-log.evtx"
    bad.write_bytes(b"this is not an event log")
    res = CliRunner().invoke(cli, ["export", str(bad), "-f", "json"])
    # one bad file never aborts silently: either a clear error naming the file, or a run whose
    # ingest report (stderr) names it
    assert "not-a-log.evtx" in res.output + (res.stderr or "")


@pytest.mark.slow
def test_export_on_a_generated_enterprise(tmp_path: Path) -> None:
    """`latgraph simulate` writes a seeded case with ground truth; every export of its analysis
    names the true patient zero and the hops of the true spread."""
    _pipeline_or_skip()
    if "simulate" not in cli.commands:
        pytest.skip("latgraph simulate is not registered")
    sim = _invoke("simulate", "--seed", "3", "--out", str(tmp_path / "case"))
    assert sim.exit_code == 0, sim.output
    truth = json.loads((tmp_path / "case" / "truth.json").read_text())
    case = tmp_path / "case" / "events" / "case.parquet"
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["export", str(case), "-f", "all", "-o", str(out)])
    assert res.exit_code == 0, res.output
    pz = truth["patient_zero"]
    true_hosts = {c["host"] for c in truth["compromised"]}
    doc = json.loads((out / EXPORTERS["json"].filename()).read_text())
    assert doc["patient_zero"][0]["host"] == pz
    hops = list(csv.DictReader(io.StringIO((out / EXPORTERS["csv"].filename()).read_text(), newline="")))
    assert {h["dst_host"] for h in hops if h["severity"] in ("high", "medium")} & true_hosts
    paths = list(csv.DictReader(io.StringIO((out / EXPORTERS["csv-paths"].filename()).read_text(),
                                            newline="")))
    assert any(p["hosts"].split(";")[0] == pz and p["chain"].startswith(pz + " -[") for p in paths)
    og = json.loads((out / EXPORTERS["opengraph"].filename()).read_text())
    pz_nodes = [n["id"] for n in og["graph"]["nodes"] if "LGPatientZero" in n["kinds"]]
    assert pz_nodes == [f"host:{pz}"]
    g = nx.read_graphml(out / EXPORTERS["graphml"].filename(), force_multigraph=True)
    assert g.nodes[f"host:{pz}"]["patient_zero_rank"] == 1
    html = (out / EXPORTERS["html"].filename()).read_text()
    assert f"{pz} (patient zero)" in html and "<script" not in html.lower()


def test_from_result_exports_a_saved_analysis(tmp_path: Path) -> None:
    from tests.app.export_fixture import build_result

    saved = tmp_path / "result.json"
    saved.write_bytes(EXPORTERS["json"](build_result()))
    res = CliRunner().invoke(cli, ["export", "--from-result", str(saved), "-f", "csv-paths"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout, newline="")))
    assert rows[0]["hosts"] == "PC01;SRV02;DC03"
    high = CliRunner().invoke(cli, ["export", "--from-result", str(saved), "-f", "csv", "--min-score", "0.7"])
    assert [r["hop_id"] for r in csv.DictReader(io.StringIO(high.stdout, newline=""))] == ["1"]
    out = tmp_path / "all"
    res = CliRunner().invoke(cli, ["export", "--from-result", str(saved), "-f", "all", "-o", str(out)])
    assert res.exit_code == 0 and len(list(out.iterdir())) == len(EXPORTERS)


def test_from_result_rejects_a_log_file(tmp_path: Path) -> None:
    bad = tmp_path / "winlogbeat.json"
    bad.write_text('{"@timestamp": "2024-01-01T00:00:00Z", "winlog": {}}')
    res = CliRunner().invoke(cli, ["export", "--from-result", str(bad), "-f", "csv"])
    assert res.exit_code == 1
    assert "winlogbeat.json: not a latgraph version-1/2 JSON result" in res.output


@pytest.mark.samples
def test_allowlisted_source_changes_the_export(empire: Path) -> None:
    base = CliRunner().invoke(cli, ["export", str(empire), "-f", "opengraph"])
    allowed = CliRunner().invoke(cli, ["export", str(empire), "-f", "opengraph",
                                       "--allow-host", "WORKSTATION5"])
    assert base.exit_code == 0 and allowed.exit_code == 0

    def pz(out: str) -> list[str]:
        return [n["id"] for n in json.loads(out)["graph"]["nodes"] if "LGPatientZero" in n["kinds"]]
    assert pz(base.stdout) == ["host:WORKSTATION5"]
    assert pz(allowed.stdout) != ["host:WORKSTATION5"]


ATTACK_FILES = [e["path"] for e in load_labels() if e.get("expected_t1021_002")]


@pytest.mark.samples
@pytest.mark.slow
@pytest.mark.parametrize("path", ATTACK_FILES or ["(no data sets)"])
def test_exports_of_every_attack_sample(path: str, datasets: Path) -> None:
    """Every labelled admin-share attack sample: the exports name the labelled destination, and
    every evidence row of the evidence CSV points at a real record (file, record id, event id)."""
    _pipeline_or_skip()
    from app import pipeline

    entry = next(e for e in load_labels() if e["path"] == path)
    result = pipeline.run([datasets / path])
    # labels read "PC01.example.corp" or "IEWIN7 (10.0.2.17)": the short name is what we export
    dst = {re.split(r"[\s.(]", h.strip())[0].upper()
           for h in entry["ground_truth"]["lateral_movement"]["destination_hosts"]}
    hops = list(csv.DictReader(io.StringIO(EXPORTERS["csv"](result).decode(), newline="")))
    assert dst & {h["dst_host"] for h in hops}, f"no exported hop to {dst}"
    html = EXPORTERS["html"](result).decode()
    assert all(d in html for d in dst)
    lines = [json.loads(x) for x in EXPORTERS["timesketch"](result).decode().splitlines()]
    assert dst & {x["lg_dst_host"] for x in lines}
    evidence = list(csv.DictReader(io.StringIO(EXPORTERS["csv-evidence"](result).decode(), newline="")))
    events = result.events
    known = set(zip(events["source_file"].astype(str), events["record_id"].astype("Int64").astype(str),
                    events["event_id"].astype(str), strict=True))
    for row in evidence:
        source_file = row["source_file"][1:] if row["source_file"].startswith("'") else row["source_file"]
        assert (source_file, row["record_id"], row["event_id"]) in known, row
