"""Bad input never aborts a run: every problem is named in the report; the exit status tells scripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest import iter_event_batches, load_events
from ingest.errors import IngestError
from ingest.report import IngestReport
from tests.conftest import datasets_or_skip

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"
BIG_EVTX = "evtx-attack-samples/LM_5145_Remote_FileCopy.evtx"   # 869 records over several chunks


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """One of each kind of bad file, plus one good file."""
    root = datasets_or_skip()
    real = (root / BIG_EVTX).read_bytes()
    files = {
        "truncated": tmp_path / "cut.evtx",
        "broken_json": tmp_path / "broken.ndjson",
        "empty": tmp_path / "empty.json",
        "binary": tmp_path / "junk.bin",
        "unknown_csv": tmp_path / "inventory.csv",
        "good": tmp_path / "good.xml",
    }
    files["truncated"].write_bytes(real[:200_000])
    lines = (FIXTURES / "psexec.winlogbeat7.ndjson").read_text().splitlines()
    lines.insert(2, lines[2][: len(lines[2]) // 2])           # a line cut in the middle
    files["broken_json"].write_text("\n".join(lines) + "\n")
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 64)
    files["unknown_csv"].write_text("Hostname,Owner,Rack\nPC01,alice,R1\nPC02,bob,R2\n")
    shutil.copy(FIXTURES / "psexec.wevtutil.xml", files["good"])
    return files


def _by_name(report: IngestReport) -> dict[str, object]:
    return {Path(f.path).name: f for f in report.files}


def test_one_run_over_every_kind_of_bad_file_names_each_problem(bad_inputs: dict[str, Path]) -> None:
    events, report = load_events(list(bad_inputs.values()), workers=2)
    files = _by_name(report)
    assert len(files) == 6
    cut = files["cut.evtx"]
    assert cut.kept > 0 and any("file truncated" in p for p in cut.problems)
    broken = files["broken.ndjson"]
    assert broken.kept == 4 and broken.skipped["malformed record"] == 1
    assert any("line 3" in p for p in broken.problems)
    assert "empty file" in files["empty.json"].error
    assert "not recognised" in files["junk.bin"].error
    assert "not recognised" in files["inventory.csv"].error
    assert files["good.xml"].kept == 4 and files["good.xml"].problem_count == 0
    assert len(events) == cut.kept + 4 + 4
    # the cut file: "file truncated" plus its last, partial chunk (framed records kept and flagged,
    # the rest counted as lost; tests/ingest/test_evtx_integrity.py)
    assert cut.problem_count > 1
    assert report.problem_count == 4 + cut.problem_count
    text = report.format_text()
    for name in bad_inputs:
        assert bad_inputs[name].name in text


def test_cli_exit_status_tells_whether_anything_was_ingested(bad_inputs: dict[str, Path],
                                                             tmp_path: Path) -> None:
    runner = CliRunner()
    case, rep = tmp_path / "case.parquet", tmp_path / "report.json"
    result = runner.invoke(cli, ["ingest", *map(str, bad_inputs.values()), "-o", str(case),
                                 "--report", str(rep)])
    assert result.exit_code == 3, result.output          # ingested, with problems
    assert case.is_file()
    totals = json.loads(rep.read_text())["totals"]
    cut = next(f for f in json.loads(rep.read_text())["files"] if f["path"].endswith("cut.evtx"))
    assert cut["warnings"]                               # its partial last chunk (test_evtx_integrity.py)
    cut_problems = sum(n for r, n in cut["skipped"].items() if r != "event id not kept") + sum(
        cut["warnings"].values())
    assert totals["failed_files"] == 3 and totals["problems"] == 4 + cut_problems
    only_bad = [str(bad_inputs[k]) for k in ("empty", "binary", "unknown_csv")]
    result = runner.invoke(cli, ["ingest", *only_bad, "-o", str(tmp_path / "none.parquet")])
    assert result.exit_code == 1 and not (tmp_path / "none.parquet").exists()
    result = runner.invoke(cli, ["ingest", str(bad_inputs["good"]), "-o", str(tmp_path / "ok.parquet")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["ingest", str(tmp_path / "ok.parquet"), "-o",
                                 str(tmp_path / "again.parquet")])
    assert result.exit_code == 0, result.output           # a case file is a valid input


@pytest.mark.parametrize("kind", ["truncated", "broken_json", "empty", "binary", "unknown_csv"])
def test_strict_fails_fast_naming_the_file(bad_inputs: dict[str, Path], kind: str) -> None:
    with pytest.raises(IngestError) as info:
        load_events([bad_inputs["good"], bad_inputs[kind]], strict=True, workers=1)
    assert bad_inputs[kind].name in str(info.value)
    with pytest.raises(IngestError):
        load_events([bad_inputs[kind]], strict=True, workers=2)


def test_cli_strict_exit_1_with_file_named(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(bad_inputs["good"]), str(bad_inputs["broken_json"]),
                                      "--strict", "-o", str(tmp_path / "x.parquet")])
    assert result.exit_code == 1
    assert "broken.ndjson" in result.output


def test_missing_path_is_reported_not_raised(tmp_path: Path) -> None:
    events, report = load_events([tmp_path / "nope.evtx", FIXTURES / "psexec.otrf.zip"], workers=1)
    assert len(events) == 4
    assert report.failed_files[0].error == "no such file or directory"


def test_streaming_batches_fill_the_report(bad_inputs: dict[str, Path]) -> None:
    report = IngestReport()
    seen: list[int] = []
    batches = list(iter_event_batches(list(bad_inputs.values()), report=report, batch_size=100,
                                      on_progress=lambda done, total, path: seen.append(done)))
    assert all(len(b) <= 100 for b in batches)
    assert sum(len(b) for b in batches) == report.kept
    assert seen == list(range(1, 7))
