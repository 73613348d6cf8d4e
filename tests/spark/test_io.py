"""Canonical events through Spark: pandas -> Parquet (the case file) / JSON lines -> Spark -> pandas."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from graph.spark.io import events_schema, events_to_pandas, events_to_spark, read_events
from ingest.case import write_case
from ingest.errors import SchemaError
from tests.conftest import T0, events_frame, make_event

pytestmark = pytest.mark.spark


def _sample() -> pd.DataFrame:
    """Events covering every dtype, missing values, and sub-microsecond times."""
    return events_frame(
        make_event(account="bob", logon_id="0x3e7", logon_type=3, dst_port=445, key_length=0,
                   access_mask=0x2, record_id=2**40, auth_package="NTLM", src_host="WS01",
                   src_ip="10.0.0.5", dst_host="PC01", source_format="evtx"),
        make_event(ts=T0 + timedelta(seconds=5, microseconds=1), event_id=5145, host="PC02",
                   share_name="\\\\*\\ADMIN$", target_name="x=1,\"y\"\n", channel="Security"),
        make_event(ts=pd.Timestamp(T0) + pd.Timedelta(nanoseconds=7), event_id=7045, channel="System",
                   host="PC03", service_name="PSEXESVC", service_image="%SystemRoot%\\PSEXESVC.exe"),
    )


def test_case_file_round_trip_is_exact(spark, tmp_path) -> None:
    events = _sample()
    case = write_case(events, tmp_path / "case.parquet")
    frame = read_events(spark, str(case))
    assert frame.schema == events_schema()
    back = events_to_pandas(frame.orderBy("ts"))
    pd.testing.assert_frame_equal(back, events.sort_values("ts", kind="stable").reset_index(drop=True))
    # ts is carried as epoch nanoseconds: the 7 ns survive
    assert sorted(r.ts for r in frame.select("ts").collect())[1] - int(T0.timestamp()) * 10**9 == 7


def test_pandas_round_trip_through_arrow(spark) -> None:
    events = _sample()
    pd.testing.assert_frame_equal(events_to_pandas(events_to_spark(spark, events)), events)
    empty = events.iloc[0:0]
    assert events_to_pandas(events_to_spark(spark, empty)).empty


def test_json_lines_iso_and_epoch_ms(spark, tmp_path) -> None:
    events = _sample().iloc[:2]
    path = tmp_path / "events.jsonl"
    records = events.astype(object).where(events.notna(), None).to_dict("records")
    records[0]["ts"] = "2024-03-01T09:00:00Z"
    records[1]["ts"] = int((T0 + timedelta(seconds=5)).timestamp() * 1000)
    pd.DataFrame(records).to_json(path, orient="records", lines=True)
    back = events_to_pandas(read_events(spark, str(path)).orderBy("ts"))
    assert list(back["ts"]) == [pd.Timestamp(T0), pd.Timestamp(T0) + pd.Timedelta(seconds=5)]
    assert back["dst_port"].tolist()[0] == 445
    assert back["target_name"].tolist()[1] == "x=1,\"y\"\n"


def test_missing_columns_named(spark, tmp_path) -> None:
    path = tmp_path / "bad.parquet"
    _sample().drop(columns=["logon_id", "host"]).to_parquet(path)
    with pytest.raises(SchemaError, match=r"lacks columns \['host', 'logon_id'\]"):
        read_events(spark, str(path))


def test_storage_from_before_the_later_columns_reads_them_missing(spark, tmp_path) -> None:
    # a case file / Parquet folder written before `repeats` and `src_port` existed (ingest.schema)
    from ingest.schema import LATER_COLUMNS

    events = _sample().assign(src_port=pd.array([50123, None, None], dtype="Int32"))
    path = tmp_path / "old.parquet"
    events.drop(columns=list(LATER_COLUMNS)).to_parquet(path)
    frame = read_events(spark, str(path))
    assert frame.schema == events_schema()
    back = events_to_pandas(frame.orderBy("ts"))
    assert back["src_port"].isna().all() and back["repeats"].isna().all()
    new = tmp_path / "new.parquet"
    write_case(events, new)
    assert events_to_pandas(read_events(spark, str(new)).orderBy("ts"))["src_port"].tolist()[0] == 50123
