"""Constant text columns held once (ingest.compact): same values, dtype and behaviour, one buffer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest import compact, load_events
from ingest.case import read_case, write_case
from ingest.compact import CHUNK_ROWS, share_constant_columns, shared_column, take_rows
from ingest.schema import Event, coerce_frame, to_frame

N = 4 * CHUNK_ROWS + 17   # several chunks and a partial one (share_constant_columns' own minimum)


def _frame() -> pd.DataFrame:
    """A frame with an all-missing, a constant, a varying and a mostly-constant text column."""
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "empty": pd.array([None] * N, dtype="string"),
        "file": pd.array(["C:\\logs\\auth.txt"] * N, dtype="string"),
        "host": pd.array([f"H{i}" for i in rng.integers(0, 50, N)], dtype="string"),
        "almost": pd.array(["x"] * (N - 1) + [None], dtype="string"),
        "n": np.arange(N, dtype="int64"),
    })


def _buffers(col: pd.Series) -> set[int]:
    """Addresses of the data buffers (offsets) behind a string column's chunks."""
    return {chunk.buffers()[1].address for chunk in col.array._pa_array.chunks}


def test_shared_columns_hold_the_same_values_in_one_buffer() -> None:
    plain = _frame()
    shared = share_constant_columns(plain.copy())
    pd.testing.assert_frame_equal(shared, plain)
    for c in ("empty", "file"):
        assert shared[c].dtype == plain[c].dtype == pd.StringDtype()
        assert len(_buffers(shared[c])) == 1 < shared[c].array._pa_array.num_chunks
    for c in ("host", "almost"):   # not constant: left as they are
        assert shared[c].array._pa_array.num_chunks == 1
    # they compare, sort, filter, take and convert as the plain columns do
    pos = np.random.default_rng(1).integers(0, N, 5000)
    for c in ("empty", "file"):
        pd.testing.assert_series_equal(shared[c].take(pos), plain[c].take(pos))
        pd.testing.assert_series_equal(shared[c].isna(), plain[c].isna())
        pd.testing.assert_series_equal(shared[c].eq("C:\\logs\\auth.txt"), plain[c].eq("C:\\logs\\auth.txt"))
        pd.testing.assert_series_equal(shared[c].fillna("-").str.lower(), plain[c].fillna("-").str.lower())
        assert shared[c].astype(str).tolist() == plain[c].astype(str).tolist()
    order = ["file", "host", "n"]
    pd.testing.assert_frame_equal(shared.sort_values(order), plain.sort_values(order))
    pd.testing.assert_frame_equal(shared[shared["n"] % 7 == 0], plain[plain["n"] % 7 == 0])
    pd.testing.assert_frame_equal(pd.concat([shared.iloc[:3], shared.iloc[-3:]]),
                                  pd.concat([plain.iloc[:3], plain.iloc[-3:]]))


def test_take_rows_equals_take_and_keeps_constant_columns_shared() -> None:
    frame = share_constant_columns(_frame())
    pos = np.random.default_rng(2).integers(0, N, 2 * CHUNK_ROWS + 3)
    cols = ["empty", "file", "host", "n"]
    got = take_rows(frame, cols, pos)
    pd.testing.assert_frame_equal(got, frame[cols].take(pos).reset_index(drop=True))
    assert len(_buffers(got["empty"])) == 1 and len(_buffers(got["file"])) == 1
    assert take_rows(frame, cols, np.array([], dtype=int)).empty


@pytest.mark.parametrize("value", [None, "", "x" * 300])
def test_shared_column_length_and_value(value: str | None) -> None:
    for n in (0, 1, CHUNK_ROWS, CHUNK_ROWS + 1, 2 * CHUNK_ROWS):
        col = shared_column(value, n)
        assert len(col) == n and col.to_pylist() == [value] * n


def test_load_events_shares_a_case_files_constant_columns(tmp_path, monkeypatch) -> None:
    """A loaded case equals its file's frame; its all-missing and one-file columns are one buffer each,
    and writing it back gives the same case."""
    monkeypatch.setattr(compact, "CHUNK_ROWS", 64)
    monkeypatch.setattr(compact, "MIN_ROWS", 0)
    n = 1000
    i = np.arange(n)
    one = to_frame([Event(pd.Timestamp("2024-03-04", tz="UTC"), 4624, "Security", "H0")])
    frame = pd.DataFrame({c: one[c].repeat(n).reset_index(drop=True) for c in one.columns})
    frame["ts"] = frame["ts"] + pd.to_timedelta(i, unit="s")
    frame["host"] = pd.array([f"H{k}" for k in i % 40], dtype="string")
    frame["account"] = pd.array([f"u{k}" for k in i % 9], dtype="string")
    frame["record_id"] = pd.array(i, dtype="Int64")
    frame["source_file"] = pd.array(["auth.txt"] * n, dtype="string")
    case = write_case(coerce_frame(frame), tmp_path / "case.parquet")
    events, _ = load_events([case])
    plain = read_case(case)
    pd.testing.assert_frame_equal(events, plain)
    for c in ("process", "command_line", "source_file"):
        assert len(_buffers(events[c])) == 1 < events[c].array._pa_array.num_chunks
    again = write_case(events, tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(read_case(again), plain)
