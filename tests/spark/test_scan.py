"""Storage input read by pyarrow in Spark tasks (graph/spark/scan.py): used for Parquet that
pyarrow opens, the same hops, findings and presence as pandas, and Spark's own rows otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.config import AnalysisConfig
from ingest.case import write_case

pytestmark = pytest.mark.spark


def _spy(monkeypatch) -> list[int]:
    """Count the calls of the row-group scan the storage stage makes."""
    import graph.spark.stage as stage

    calls: list[int] = []
    real = stage.scan_row_groups

    def spy(*args, **kwargs):
        scan = real(*args, **kwargs)
        calls.append(len(args[1]))      # the tasks
        return scan

    monkeypatch.setattr(stage, "scan_row_groups", spy)
    return calls


def _write_parts(events: pd.DataFrame, folder: Path, *, parts: int = 2,
                 row_group: int = 400) -> pd.DataFrame:
    """``events`` written as ``parts`` case files in ``folder`` with small row groups (several
    tasks, hosts split across them); returns the events in the order the files are read."""
    folder.mkdir()
    step = -(-len(events) // parts)
    for i in range(parts):
        case = write_case(events.iloc[i * step:(i + 1) * step].reset_index(drop=True), folder / f"x{i}.tmp")
        pq.write_table(pq.read_table(case), folder / f"part-{i}.parquet", row_group_size=row_group)
        case.unlink()
    return events


def _enterprise_with_dc() -> pd.DataFrame:
    """A generated enterprise plus a DC's authentication view of another (4768/4769/4776: the
    presence and IP-hint inputs) and technique fixtures (a service burst, registry services)."""
    from ingest.schema import coerce_frame
    from ingest.synthetic.auth_enterprise import dc_events, simulate_auth
    from tests.spark.test_equivalence import _technique_events

    parts = [_technique_events(), dc_events(simulate_auth(5, n_hosts=60, days=4, stealthy=True))]
    both = pd.concat([p.astype({"channel": "string", "source_format": "string"}) for p in parts],
                     ignore_index=True)
    return coerce_frame(both.sort_values("ts", kind="stable").reset_index(drop=True))


def test_storage_parquet_is_read_by_pyarrow_tasks_and_equals_pandas(spark, tmp_path, monkeypatch,
                                                                    correlation) -> None:
    from graph.engine import hop_stage, pandas_event_stage
    from graph.spark import scan
    from graph.spark.stage import storage_event_stage

    events = _write_parts(_enterprise_with_dc(), tmp_path / "case", row_group=400)
    assert len(events) > 3_000 and (events["event_id"] == 4769).any() and (events["event_id"] == 7045).any()
    calls = _spy(monkeypatch)
    monkeypatch.setattr(scan, "TASK_ROWS", 800)     # two row groups a task
    config = AnalysisConfig()
    want = pandas_event_stage(events, config)
    got = storage_event_stage(spark, str(tmp_path / "case"), config)
    assert calls and calls[0] > 2, calls          # several row groups, two files: several tasks
    pd.testing.assert_frame_equal(got.hops, want.hops)
    pd.testing.assert_frame_equal(got.stage.findings, want.findings)
    assert len(want.hops) > 10 and (want.hops["auth"] > 0).any() and len(want.findings) > 0
    assert hop_stage(got.hops, config).patient_zero == hop_stage(want.hops, config).patient_zero


def test_ip_hints_by_day_from_the_scan_equal_pandas(spark, tmp_path, monkeypatch) -> None:
    from graph.engine import pandas_event_stage
    from graph.spark.stage import event_stage_from_storage

    events = _write_parts(_enterprise_with_dc(), tmp_path / "case", parts=1, row_group=5_000)
    calls = _spy(monkeypatch)
    config = AnalysisConfig(ip_hints_by_day=True)
    got = event_stage_from_storage(spark, str(tmp_path / "case"), config)
    assert calls
    pd.testing.assert_frame_equal(got, pandas_event_stage(events, config).hops)


def test_json_and_unconvertible_parquet_fall_back_to_spark_rows(spark, tmp_path, monkeypatch) -> None:
    from graph.engine import pandas_event_stage
    from graph.spark.stage import event_stage_from_storage
    from graph.toy import toy_events

    events = toy_events("A>B@0s:psexec B>C@10m:psexec ?>E@1h:svc X>Y@2h:netuse")
    want = pandas_event_stage(events, AnalysisConfig()).hops
    calls = _spy(monkeypatch)
    # event_id stored as text: Spark's read converts it, the pyarrow path does not
    table = pq.read_table(write_case(events, tmp_path / "case.parquet"))
    table = table.set_column(table.schema.get_field_index("event_id"), "event_id",
                             table.column("event_id").cast(pa.string()))
    pq.write_table(table, tmp_path / "text_ids.parquet")
    got = event_stage_from_storage(spark, str(tmp_path / "text_ids.parquet"), AnalysisConfig())
    pd.testing.assert_frame_equal(got, want)
    jsonl = tmp_path / "case.jsonl"
    events.assign(ts=events["ts"].astype("int64") // 1_000_000).to_json(jsonl, orient="records", lines=True)
    got = event_stage_from_storage(spark, str(jsonl), AnalysisConfig())
    pd.testing.assert_frame_equal(got, want)
    assert calls == []
    assert len(want) >= 3


def test_plan_row_groups_bundles_groups_and_refuses_what_pyarrow_cannot_open(tmp_path) -> None:
    from graph.spark.scan import plan_row_groups
    from graph.toy import toy_events

    events = toy_events("A>B@0s:psexec B>C@10m:psexec C>D@20m:smbexec")
    case = write_case(events, tmp_path / "c.parquet")
    pq.write_table(pq.read_table(case), tmp_path / "b.parquet", row_group_size=3)
    tasks = plan_row_groups([f"file://{tmp_path}/c.parquet", f"file://{tmp_path}/b.parquet"], task_rows=6)
    n = len(events)
    assert n == 12
    assert tasks[0].uri.endswith("b.parquet") and tasks[0].groups == (0, 1) and tasks[0].first_row == 0
    assert tasks[1].groups == (2, 3) and tasks[1].first_row == 6     # row groups of 3, 6 rows a task
    assert tasks[-1].uri.endswith("c.parquet") and tasks[-1].first_row == n   # files in sorted order
    assert plan_row_groups(["s3a://bucket/none.parquet"]) is None
    assert plan_row_groups([str(tmp_path / "missing.parquet")]) is None


def test_conform_arrow_gives_the_engine_types() -> None:
    from pyspark.sql.pandas.types import to_arrow_schema

    from graph.spark.io import events_schema
    from graph.spark.scan import conform_arrow

    schema = to_arrow_schema(events_schema())
    ts = pa.array([1_700_000_000_123_456], pa.timestamp("us", "UTC"))
    table = pa.table({"ts": ts, "event_id": pa.array([4624], pa.int64()),
                      "host": pa.array(["WS1"]).dictionary_encode(), "logon_type": pa.array([3], pa.int32())})
    out = conform_arrow(table, pa.schema([schema.field(c) for c in
                                          ("ts", "event_id", "host", "logon_type", "repeats")]))
    assert out.column("ts").to_pylist() == [1_700_000_000_123_456_000]
    assert out.schema.field("event_id").type == pa.int32() and out.column("host").to_pylist() == ["WS1"]
    assert out.schema.field("logon_type").type == pa.int8() and out.column("repeats").null_count == 1
