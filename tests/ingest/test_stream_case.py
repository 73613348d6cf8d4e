"""``latgraph ingest --stream``: the case written batch by batch equals the in-memory one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest import load_events
from ingest.case import read_case
from ingest.stream_case import ingest_to_case
from ingest.synthetic import simulate
from ingest.writers import write_events

KEY = ["ts", "source_file", "record_id", "event_id", "host"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({c: "string" for c in ("channel", "source_format")})
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A generated case (DHCP churn: many events name their client by address only) in two formats."""
    sim = simulate(5, n_workstations=20, n_servers=4, days=2)
    root = tmp_path_factory.mktemp("stream")
    half = len(sim.events) // 2
    a, b = root / "a.ndjson", root / "b.xml"
    write_events(sim.events.iloc[:half].reset_index(drop=True), a, "winlogbeat")
    write_events(sim.events.iloc[half:].reset_index(drop=True), b, "xml")
    return [a, b]


@pytest.mark.parametrize("resolve", [True, False], ids=["resolved", "unresolved"])
def test_streamed_case_equals_the_in_memory_case(inputs: list[Path], tmp_path: Path, resolve: bool) -> None:
    expected, expected_report = load_events(inputs, workers=1, resolve=resolve)
    # small batches: evidence naming an address is often in another batch (and another file)
    n, report = ingest_to_case(inputs, tmp_path / "case.parquet", resolve=resolve, batch_size=1_000)
    got = read_case(tmp_path / "case.parquet")
    assert n == len(expected) == len(got)
    assert report.records_read == expected_report.records_read
    pd.testing.assert_frame_equal(_sorted(got), _sorted(expected))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.parquet"]     # no leftovers


def test_streamed_resolution_uses_evidence_from_other_batches(inputs: list[Path], tmp_path: Path) -> None:
    ingest_to_case(inputs, tmp_path / "raw.parquet", resolve=False, batch_size=1_000)
    ingest_to_case(inputs, tmp_path / "res.parquet", resolve=True, batch_size=1_000)
    raw, res = read_case(tmp_path / "raw.parquet"), read_case(tmp_path / "res.parquet")
    filled = (raw["src_host"].isna() & res["src_host"].notna()).sum()
    assert filled > 100


def test_nothing_ingested_writes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    n, report = ingest_to_case([empty], tmp_path / "out" / "case.parquet")
    assert n == 0 and report.files[0].error
    assert not (tmp_path / "out" / "case.parquet").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_stream_flag(inputs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "case.parquet"
    result = CliRunner().invoke(cli, ["ingest", "--stream", *map(str, inputs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(read_case(out))} events" in result.output
