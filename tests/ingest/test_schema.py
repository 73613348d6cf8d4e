"""The canonical schema: dtypes, validation errors, round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from ingest.errors import SchemaError
from ingest.schema import COLUMNS, DTYPES, Event, coerce_frame, empty_frame, to_frame, validate_frame
from tests.conftest import T0, make_event


def test_empty_frame_has_canonical_columns_and_dtypes() -> None:
    frame = empty_frame()
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["ts"].dtype) == DTYPES["ts"]
    assert isinstance(frame["host"].dtype, pd.StringDtype)


def test_round_trip_event_frame_event() -> None:
    ev = make_event(src_ip="10.0.0.5", logon_type=3, access_mask=2, record_id=17, key_length=0)
    frame = to_frame([ev])
    row = frame.iloc[0]
    assert row["ts"] == pd.Timestamp(T0)
    assert row["logon_type"] == 3 and row["key_length"] == 0 and row["record_id"] == 17
    assert pd.isna(row["src_host"]) and row["src_ip"] == "10.0.0.5"


def test_validate_frame_names_the_bad_column() -> None:
    frame = to_frame([make_event()])
    frame["event_id"] = frame["event_id"].astype("int64")
    with pytest.raises(SchemaError, match="'event_id' has dtype int64"):
        validate_frame(frame)


def test_coerce_frame_rejects_missing_columns() -> None:
    with pytest.raises(SchemaError, match="lacks columns"):
        coerce_frame(pd.DataFrame({"ts": [T0]}))


def test_event_defaults() -> None:
    ev = Event(T0, 5140, "Security", "PC01")
    assert ev.share_name is None and ev.source_file == ""
