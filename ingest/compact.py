"""Constant text columns stored once: the same values, a fraction of the memory.

A canonical frame of an authentication-only case (LANL ``auth.txt``, DC logs) has about a dozen
``string`` columns that no row fills (``process``, ``command_line``, ``share_name``...) and a
``source_file`` that names the same file on every row. Arrow keeps 8 bytes a row for the offsets
of even an all-missing text column, and the whole text again for every row of a repeated one: on
4.5M rows that was 0.74 GB of the 1.38 GB events frame.

:func:`share_constant_columns` stores each such column as slices of *one* small Arrow chunk that
holds the value (or the missing value) :data:`CHUNK_ROWS` times: the column has the same dtype
(``string``), length and values, and compares, sorts, filters, takes, writes and converts exactly
as before (only its layout differs: several chunks instead of one). Operations that produce new
data from it (``take``, ``fillna``...) produce ordinary columns. ``memory_usage`` still counts the
column as if each chunk were its own, which it is not: the process's RSS is the measure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Rows of the shared chunk (8 bytes a row for large_string offsets: 0.5 MB per distinct column).
CHUNK_ROWS = 1 << 16
#: Frames with fewer rows are left as they are by default (nothing worth the check).
MIN_ROWS = 4 * CHUNK_ROWS


def _arrow(col: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow data of a ``string`` column backed by Arrow (``None`` for any other column)."""
    if not isinstance(col.dtype, pd.StringDtype) or col.dtype.storage != "pyarrow":
        return None
    return col.array._pa_array   # ArrowStringArray's own chunked array (read only)


def constant_value(data: pa.ChunkedArray) -> tuple[bool, str | None]:
    """``(True, value)`` when every element of ``data`` is ``value`` (``None``: every one missing)."""
    n = len(data)
    if n == 0:
        return False, None
    if data.null_count == n:
        return True, None
    if data.null_count:
        return False, None
    first = data[0].as_py()
    return bool(pc.all(pc.equal(data, pa.scalar(first, data.type))).as_py()), first


def shared_column(value: str | None, n: int, type_: pa.DataType | None = None) -> pa.ChunkedArray:
    """A chunked array of ``n`` copies of ``value`` whose chunks all view one chunk of
    :data:`CHUNK_ROWS` rows (memory independent of ``n``); ``type_`` default ``large_string``."""
    type_ = type_ or pa.large_string()
    one = pa.array([value] * min(n, CHUNK_ROWS), type=type_)
    full, rest = divmod(n, len(one)) if n else (0, 0)
    chunks = [one] * full + ([one.slice(0, rest)] if rest else [])
    return pa.chunked_array(chunks, type=type_)


def share_constant_columns(frame: pd.DataFrame, min_rows: int | None = None) -> pd.DataFrame:
    """``frame`` with each constant Arrow ``string`` column (one value on every row, or missing on
    every row) replaced by :func:`shared_column`, in place; frames under ``min_rows`` rows (default
    :data:`MIN_ROWS`) are left as they are (nothing to gain). Returns ``frame``.

    Examples:
        >>> n = 3 * CHUNK_ROWS + 5
        >>> f = pd.DataFrame({"a": pd.array([None] * n, dtype="string"), "b": pd.array(["x", "y"] * (n // 2)
        ...                  + ["x"], dtype="string"), "c": pd.array(["f.txt"] * n, dtype="string")})
        >>> g = share_constant_columns(f.copy(), min_rows=0)
        >>> g.equals(f), [g[c].array._pa_array.num_chunks for c in "abc"]
        (True, [4, 1, 4])
    """
    if len(frame) < (MIN_ROWS if min_rows is None else min_rows):
        return frame
    for name in frame.columns:
        data = _arrow(frame[name])
        if data is None:
            continue
        same, value = constant_value(data)
        if same:
            shared = pd.array(shared_column(value, len(data), data.type), dtype=frame[name].dtype)
            frame[name] = pd.Series(shared, index=frame.index, name=name)
    return frame


def take_rows(frame: pd.DataFrame, columns: list[str], positions: np.ndarray) -> pd.DataFrame:
    """``frame[columns].take(positions)`` with a fresh ``RangeIndex``, where a constant Arrow ``string``
    column of ``frame`` comes out as :func:`shared_column` (same values) instead of being copied row by
    row: a take of the events' all-missing columns is then almost free."""
    positions = np.asarray(positions)
    out: dict[str, pd.Series | pd.api.extensions.ExtensionArray] = {}
    for name in columns:
        col = frame[name]
        data = _arrow(col)
        same, value = constant_value(data) if data is not None and len(positions) else (False, None)
        if same:
            out[name] = pd.array(shared_column(value, len(positions), data.type), dtype=col.dtype)
        else:
            out[name] = col.take(positions).reset_index(drop=True)
    return pd.DataFrame(out, index=pd.RangeIndex(len(positions)))
