"""A hop's evidence items, kept as columns until they are read.

Each hop carries up to ``max_evidence_per_hop`` evidence items (``hops.evidence``), each a dict
``{"event_id", "source_file", "record_id", "rule", "ts", "host", "fields"}``. Built eagerly, a dict per
item with its ``fields`` dict and ``datetime`` costs about 650 bytes: on an authentication-only case
(LANL ``auth.txt``), where nearly every row is a hop's evidence, that was the largest part of the
analysis's memory (about 2 GB at 4.5M rows).

:class:`EvidenceItems` is a read-only sequence that stands for the same tuple of dicts: the items of
*all* hops live in one :class:`EvidenceColumns` (integer codes per column, about 90 bytes an item),
and a hop's sequence is a slice of it. An item is built when it is read (iteration, indexing,
``list()``, ``==``), and it is the same dict the eager build gave; pickling and ``copy`` give a
plain tuple. The pandas event stage builds them (:func:`graph.correlate.aggregate_hops`); other
engines may give plain tuples: both compare equal item by item.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import numpy as np
import pandas as pd

from graph.fields import EVIDENCE_FIELDS, INT_FIELDS
from ingest.compact import take_rows

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _codes(values: pd.Series, convert: Any = str) -> tuple[np.ndarray, list[Any]]:
    """Factorised ``values``: codes (-1 = missing; int8, int16 or int32, the smallest that holds them)
    and the distinct values as plain Python objects (``convert`` of each, one object per value)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    plain = [convert(v) for v in (uniques.tolist() if hasattr(uniques, "tolist") else list(uniques))]
    small = np.int8 if len(plain) < 2**7 else np.int16 if len(plain) < 2**15 else np.int32
    return codes.astype(small, copy=False), plain


class EvidenceColumns:
    """The evidence items of many hops as columns (one row per item, in the hops' item order).

    ``frame`` has ``event_id, source_file, record_id, rule_id, ts, host`` and one column per
    :data:`graph.fields.EVIDENCE_FIELDS` (named ``f_<field>``). With ``events`` and ``positions``,
    ``frame`` needs only ``rule_id, ts, host``: the event's own columns are read from ``events`` at
    ``positions``, one column at a time (``ingest.compact.take_rows``: an all-missing or constant
    column is never copied row by row). A field missing on every item is not stored.
    """

    __slots__ = ("_event_id", "_fields", "_file", "_host", "_record", "_record_ok", "_rule", "_ts")

    def __init__(self, frame: pd.DataFrame, events: pd.DataFrame | None = None,
                 positions: np.ndarray | None = None) -> None:
        def column(name: str) -> pd.Series:
            if events is None:
                return frame[name]
            return take_rows(events, [name.removeprefix("f_")], positions).iloc[:, 0]

        self._event_id = column("event_id").to_numpy(dtype=np.int32)
        rec = column("record_id").astype("Int64")
        self._record_ok = rec.notna().to_numpy(dtype=bool)
        self._record = rec.fillna(0).to_numpy(dtype=np.int64)
        self._file = _codes(column("source_file").astype(str))
        self._rule = _codes(frame["rule_id"].astype(str))
        self._host = _codes(frame["host"].astype(str))
        self._ts = frame["ts"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
        self._fields = []
        for name in EVIDENCE_FIELDS:
            codes, values = _codes(column(f"f_{name}"), int if name in INT_FIELDS else str)
            if values:   # else missing on every item: nothing to show
                self._fields.append((name, codes, values))

    def __len__(self) -> int:
        return len(self._event_id)

    def item(self, i: int) -> dict[str, Any]:
        """Item ``i`` as the evidence dict (see the module docstring)."""
        fields = {}
        for name, codes, values in self._fields:
            c = codes[i]
            if c >= 0:
                fields[name] = values[c]
        fc, fv = self._file
        rc, rv = self._rule
        hc, hv = self._host
        return {"event_id": int(self._event_id[i]), "source_file": fv[fc[i]],
                "record_id": int(self._record[i]) if self._record_ok[i] else None,
                "rule": rv[rc[i]], "ts": _EPOCH + timedelta(microseconds=int(self._ts[i]) // 1000),
                "host": hv[hc[i]], "fields": fields}

    def core(self, idx: np.ndarray) -> tuple[list[int], list[int | None], list[str], list[str], np.ndarray]:
        """Items ``idx`` column-wise, as :meth:`item` gives them, without building the dicts: event
        ids, record ids (None when missing), source files, rules, and times as int nanoseconds since
        the epoch (to the microsecond, as the items' ``datetime``).

        Examples:
            >>> f = pd.DataFrame({"event_id": [4624, 4625], "source_file": ["a", "b"],
            ...     "record_id": [1, None], "rule_id": ["r", "s"], "host": ["B", "C"],
            ...     "ts": pd.to_datetime([1_500, 2_000_000_001_999], unit="ns", utc=True),
            ...     **{f"f_{c}": pd.array([None, None], dtype="string") for c in EVIDENCE_FIELDS}})
            >>> cols = EvidenceColumns(f)
            >>> eids, rids, files, rules, ts = cols.core(np.array([1, 0]))
            >>> eids, rids, files, rules, ts.tolist()
            ([4625, 4624], [None, 1], ['b', 'a'], ['s', 'r'], [2000000001000, 1000])
            >>> [int((cols.item(i)["ts"] - _EPOCH) / timedelta(microseconds=1)) * 1000 for i in (1, 0)]
            [2000000001000, 1000]
        """
        records = self._record[idx].tolist()
        ok = self._record_ok[idx].tolist()
        fc, fv = self._file
        rc, rv = self._rule
        files = np.asarray(fv, dtype=object)[fc[idx]].tolist() if len(fv) else [fv[c] for c in fc[idx]]
        rules = np.asarray(rv, dtype=object)[rc[idx]].tolist() if len(rv) else [rv[c] for c in rc[idx]]
        return (self._event_id[idx].tolist(), [r if o else None for r, o in zip(records, ok, strict=True)],
                files, rules, (self._ts[idx] // 1000) * 1000)


class EvidenceItems(Sequence):
    """One hop's evidence: items ``start..stop`` of an :class:`EvidenceColumns`, read on access.

    Behaves as the tuple of evidence dicts it stands for (``len``, indexing, iteration, ``==`` with
    a tuple or list of the same dicts, truth value); pickles and copies as that plain tuple.
    """

    __slots__ = ("_cols", "_start", "_stop")
    __hash__ = None   # type: ignore[assignment]  # a tuple of dicts is not hashable either

    def __init__(self, cols: EvidenceColumns, start: int, stop: int) -> None:
        self._cols, self._start, self._stop = cols, start, stop

    def __len__(self) -> int:
        return self._stop - self._start

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[dict[str, Any], ...]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("evidence index out of range")
        return self._cols.item(self._start + i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        item = self._cols.item
        for j in range(self._start, self._stop):
            yield item(j)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (EvidenceItems, tuple, list)):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))


def shared_columns(groups: Sequence[Any]) -> tuple[EvidenceColumns, np.ndarray] | None:
    """When every non-empty group (a hop's evidence) is an :class:`EvidenceItems` of one
    :class:`EvidenceColumns`: those columns and the items' indices in group order (for
    :meth:`EvidenceColumns.core`); else None (plain tuples of dicts, or several column sets).

    Examples:
        >>> f = pd.DataFrame({"event_id": [1, 2, 3], "source_file": ["a"] * 3, "record_id": [1, 2, 3],
        ...     "rule_id": ["r"] * 3, "host": ["B"] * 3, "ts": pd.to_datetime([0, 1, 2], unit="s", utc=True),
        ...     **{f"f_{c}": pd.array([None] * 3, dtype="string") for c in EVIDENCE_FIELDS}})
        >>> s = evidence_items(np.array([0, 0, 1]), f)
        >>> cols, idx = shared_columns([s[1], (), s[0]])
        >>> idx.tolist(), shared_columns([s[0], ({"event_id": 1},)])
        ([2, 0, 1], None)
    """
    cols: EvidenceColumns | None = None
    starts: list[int] = []
    stops: list[int] = []
    for group in groups:
        if type(group) is not EvidenceItems:
            if len(group) == 0:
                continue
            return None
        if cols is None:
            cols = group._cols
        elif group._cols is not cols:
            return None
        starts.append(group._start)
        stops.append(group._stop)
    if cols is None:
        return None
    lengths = np.asarray(stops, dtype=np.int64) - np.asarray(starts, dtype=np.int64)
    # The indices start..stop of every group, concatenated: one arange plus a per-group offset.
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return cols, np.arange(int(lengths.sum()), dtype=np.int64) + offsets


def evidence_items(hop_ids: np.ndarray, frame: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.Series:
    """Per hop, its :class:`EvidenceItems`: ``frame`` (columns of :class:`EvidenceColumns`) holds the
    items grouped by hop, in item order, with ``hop_ids`` its hop per row (non-decreasing); with
    ``events``, ``frame`` has ``event_index`` (positions in ``events``) and the event's own columns
    are read there (:class:`EvidenceColumns`).

    Examples:
        >>> f = pd.DataFrame({"event_id": [4624, 4624], "source_file": ["a", "a"], "record_id": [1, None],
        ...                   "rule_id": ["r", "r"], "host": ["B", "C"],
        ...                   "ts": pd.to_datetime([0, 1], unit="s", utc=True),
        ...                   **{f"f_{c}": pd.array([None, None], dtype="string") for c in EVIDENCE_FIELDS}})
        >>> s = evidence_items(np.array([0, 1]), f)
        >>> [(e["host"], e["record_id"]) for e in s[1]], len(s[0])
        ([('C', None)], 1)
    """
    keys = np.asarray(hop_ids)
    if len(keys) == 0:
        return pd.Series([], dtype=object)
    frame = frame.reset_index(drop=True)
    cols = (EvidenceColumns(frame) if events is None
            else EvidenceColumns(frame, events, frame["event_index"].to_numpy()))
    bounds = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(keys)]
    out = np.empty(len(starts), dtype=object)
    out[:] = [EvidenceItems(cols, a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    return pd.Series(out, index=keys[starts], dtype=object)
