"""Reading one field of a batch of raw records, and normalising it column-wise.

A batch is a list of flat dicts, a list of attribute records (the EVTX reader's structs) or a
:class:`ingest.batching.ColumnBatch` (the Rust EVTX reader's dictionary-encoded columns). These
helpers give the same values for all three; from a ``ColumnBatch`` a column is normalised from its
dictionary codes (each distinct value once, the rows by a take) and event times come as integers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest.normalize import map_values, parse_timestamps

#: pandas' "string" dtype is Arrow-backed here (pandas >= 3 with pyarrow): build the arrays directly.
ARROW_STRINGS = pd.StringDtype().storage == "pyarrow" and hasattr(pd.arrays, "ArrowStringArray")


def field_values(records: Sequence[Any], name: str) -> np.ndarray:
    """``[r.get(name) for r in records]`` as an object array, iterated in C (map + dict.get, or
    getattr with a ``None`` default for attribute records); a columnar batch
    (:class:`ingest.batching.ColumnBatch`) gives its column."""
    column = getattr(records, "column", None)
    if column is not None:
        return column(name)
    if records and not isinstance(records[0], dict):
        values = map(getattr, records, repeat(name), repeat(None))
    else:
        values = map(dict.get, records, repeat(name))
    return np.fromiter(values, dtype=object, count=len(records))


def map_field(records: Sequence[Any], name: str, func: Callable[[Any], Any]) -> np.ndarray:
    """``map_values(field_values(records, name), func)``; from a columnar batch's dictionary codes
    when it has them (``func`` once per distinct value, no hashing of row values)."""
    coded = getattr(records, "coded", None)
    if coded is None:
        return map_values(field_values(records, name), func)
    codes, values = coded(name)
    mapped = _mapped(func, values)
    return np.fromiter(mapped, dtype=object, count=len(mapped))[codes]


def take_rows(records: Sequence[Any], rows: np.ndarray) -> Sequence[Any]:
    """The records at ``rows`` (a list, or a view of a columnar batch)."""
    take = getattr(records, "take", None)
    return take(rows) if take is not None else [records[i] for i in rows]


def nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def event_times(records: Sequence[Any]) -> pd.Series:
    """``parse_timestamps`` of the records' ``TimeCreated``; rows whose time the native EVTX reader
    already gave as nanoseconds (:meth:`ingest.batching.ColumnBatch.timestamps`) are not parsed."""
    native = getattr(records, "timestamps", None)
    got = native() if native is not None else None
    if got is None or not got[1].any():
        return parse_timestamps(field_values(records, "TimeCreated"))
    ns, ok = got
    if not ok.all():
        text = parse_timestamps(field_values(records, "TimeCreated")[~ok])
        ns = ns.copy()
        ns[~ok] = text.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize(_utc()))


def _utc() -> Any:
    """The UTC time zone object of :func:`parse_timestamps`' ISO results (``ZoneInfo("UTC")`` with
    pandas 3), so a batch read from nanoseconds has the very dtype of one read from text."""
    global _UTC
    if _UTC is None:
        _UTC = parse_timestamps(np.array(["1970-01-01T00:00:00Z"], dtype=object)).dt.tz
    return _UTC


_UTC: Any = None


def normalise_column(srcs: list[tuple[np.ndarray, Sequence[Any], str]], n: int, func: Callable[[Any], Any],
               arrow: bool) -> Any:
    """One canonical column: field ``name`` of the ``rows`` of each source, through ``func`` once
    per distinct value (rows no source fills: ``func(None)``); an Arrow string array if ``arrow``
    and ``func`` gives text, else an object array."""
    if len(srcs) == 1 and len(srcs[0][0]) == n:   # one event id in the batch: no scatter
        values, rows = field_values(srcs[0][1], srcs[0][2]), srcs[0][0]
    else:
        values = nones(n)
        for rows, sub, name in srcs:
            values[rows] = field_values(sub, name)
        rows = np.concatenate([r for r, _, _ in srcs]) if len(srcs) > 1 else srcs[0][0]
    out = map_to_arrow(values, rows, func) if arrow else None
    if out is not None:
        return out
    if len(rows) == n:
        return map_values(values, func)
    column = np.full(n, func(None), dtype=object)
    column[rows] = map_values(values[rows], func)
    return column


def normalise_coded(srcs: list[tuple[np.ndarray, Any, str]], n: int, func: Callable[[Any], Any],
                     arrow: bool) -> Any:
    """:func:`normalise_column` from a columnar batch's dictionary codes
    (:meth:`ingest.batching.ColumnBatch.coded`): ``func`` runs over each field's distinct values
    and the rows are a take by code; no object array per row, no hashing of row values."""
    codes = np.full(n, -1, dtype=np.int64)
    parts: list[np.ndarray] = []
    bases: dict[int, int] = {}   # views of one batch share a field's values: mapped once
    base = 0
    for rows, sub, name in srcs:
        c, v = sub.coded(name)
        at = bases.get(id(v))
        if at is None:
            at = bases[id(v)] = base
            parts.append(v)
            base += len(v)
        codes[rows] = c + at
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    codes[codes < 0] = len(values)
    mapped = _mapped(func, values)
    mapped.append(func(None))
    if arrow:
        try:
            texts = pa.array(mapped, type=pa.large_string())
        except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
            texts = None
        if texts is not None:
            return pd.arrays.ArrowStringArray(texts.take(pa.array(codes)))
    return np.fromiter(mapped, dtype=object, count=len(mapped))[codes]


#: Results of the normalisers for text values, kept across batches (the same hosts and accounts come
#: back batch after batch); each normaliser's table is emptied when it passes this many entries.
MEMO_SIZE = 1 << 18
_MEMO: dict[Callable[[Any], Any], dict[str, Any]] = {}


def _mapped(func: Callable[[Any], Any], values: np.ndarray) -> list[Any]:
    """``[func(v) for v in values]``, texts looked up in ``func``'s table first (the normalisers are
    pure: the same text always gives the same value); JSON lists/objects where a scalar belongs
    count as missing (as in ``map_values``)."""
    memo = _MEMO.get(func)
    if memo is None or len(memo) > MEMO_SIZE:
        memo = _MEMO[func] = {}
    out: list[Any] = []
    add = out.append
    for v in values:
        if type(v) is str:
            got = memo.get(v, memo)
            if got is memo:
                got = memo[v] = func(v)
            add(got)
        else:
            add(func(None if isinstance(v, (list, dict)) else v))
    return out


def map_to_arrow(values: np.ndarray, rows: np.ndarray, func: Callable[[Any], Any]) -> Any:
    """``map_values`` of ``values[rows]`` (the other rows: ``func(None)``) straight into the frame's
    Arrow string array: one ``take`` of the mapped distinct values instead of an object array that
    is converted afterwards. ``None`` (caller takes the general path) if ``func`` gives non-text."""
    n = len(values)
    sub = values if len(rows) == n else values[rows]
    try:
        codes, uniques = pd.factorize(sub, use_na_sentinel=True)
        mapped = pa.array([func(u) for u in uniques] + [func(None)], type=pa.large_string())
    except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    codes[codes < 0] = len(uniques)
    if len(rows) < n:
        full = np.full(n, len(uniques), dtype=codes.dtype)
        full[rows] = codes
        codes = full
    return pd.arrays.ArrowStringArray(mapped.take(pa.array(codes)))
