"""The Parquet case file: exact dtype round trip, mixed with raw inputs, refuses foreign Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest import load_events
from ingest.case import read_case, write_case
from ingest.errors import IngestError
from ingest.schema import DTYPES
from tests.conftest import events_frame, make_event

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"


def test_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    frame = events_frame(make_event(src_ip="10.0.0.5", logon_type=3, access_mask=2, record_id=2**40,
                                    key_length=0, dst_port=445),
                         make_event(event_id=7045, channel="System", service_name="PSEXESVC"))
    back = read_case(write_case(frame, tmp_path / "sub" / "case.parquet"))
    pd.testing.assert_frame_equal(back, frame)
    assert {c: str(back[c].dtype) for c in ("ts", "event_id", "record_id")} == {
        c: DTYPES[c] for c in ("ts", "event_id", "record_id")}


def test_case_files_mix_with_raw_inputs(tmp_path: Path) -> None:
    raw, _ = load_events([FIXTURES / "psexec.wevtutil.xml"], workers=1)
    case = write_case(raw, tmp_path / "case.parquet")
    both, report = load_events([case, FIXTURES / "psexec.otrf.zip"], workers=1)
    assert len(both) == 8
    assert [f.format for f in report.files] == ["case", "otrf"]


def test_foreign_parquet_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(IngestError, match=r"other\.parquet"):
        read_case(path)
    events, report = load_events([path], workers=1)
    assert events.empty and "not a latgraph case" in report.files[0].error
