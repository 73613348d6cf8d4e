"""Batching across sources: records of many small files are normalised together.

A directory of EVTX files pulled from hosts is often hundreds of small logs. Normalising each file
on its own costs a fixed ~10 ms (column extraction, distinct-value maps, Arrow arrays, frame) that
dwarfs the work on its few hundred records. :class:`RecordBatcher` appends the records of
consecutive sources to one batch and normalises it once ``batch_size`` records are pending (or at
the end); each record keeps its own ``source_file``/``source_format`` and every count (kept,
skipped by reason, event ids, hosts, time range) goes to its own file's report.

A reader may also yield :class:`ColumnBatch` blocks instead of single records (the optional native
EVTX reader, ``tools/evtx-columns``): kept records already split into one Arrow string column per
Windows field, so no Python object per record is built. Blocks of consecutive sources are joined
the same way and :func:`~ingest.records.normalize_batch` reads a field as one column.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest.errors import IngestError, SourceLocation
from ingest.records import Segment, normalize_batch
from ingest.report import FileReport

#: One part of a :class:`ColumnBatch`: rows, ``{field: (offsets, data, codes, kinds, ints) buffers}``
#: (the distinct texts as Arrow utf8 offsets + data; an int32 code per row, -1 = no text; a kind byte
#: per row, 0 = null; int64 values) and ``{row: record}`` for rows left to the Python decoder.
ColumnPart = tuple[int, dict[str, tuple[bytes, ...]], dict[int, Any]]
#: Kind bytes of native column values: an integer in the ``ints`` buffer (int64), an integer
#: beyond int64 given as its decimal text.
KIND_INT, KIND_BIG_INT = 2, 3
#: Key of a part's native timestamps: ``(int64 ns since 1970 per row, uint8 1 where set)``; where
#: set, the row's ``TimeCreated`` column is null (the reader read the FILETIME, no text).
TIMES = "\x00times"


class ColumnBatch:
    """Flat records held as columns: ``column(name)`` is what ``[r.get(name) for r in records]`` is
    for a list of records (an object array of ``str``/``int``/``None``), built from the native
    reader's Arrow buffers only for the fields normalisation asks for.

    ``take(rows)`` and slicing give a view of some rows (columns are shared and built once).
    """

    __slots__ = ("_cache", "_n", "_parts", "_rows")

    def __init__(self, parts: list[ColumnPart], rows: np.ndarray | None = None,
                 cache: dict[str, np.ndarray] | None = None) -> None:
        self._parts = parts
        self._n = sum(p[0] for p in parts)
        self._rows = rows
        self._cache = {} if cache is None else cache

    def __len__(self) -> int:
        return self._n if self._rows is None else len(self._rows)

    def __getitem__(self, key: slice) -> ColumnBatch:
        return self.take(np.arange(len(self))[key])

    def take(self, rows: np.ndarray) -> ColumnBatch:
        """The given rows (positions in this batch), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return ColumnBatch(self._parts, rows if self._rows is None else self._rows[rows], self._cache)

    @staticmethod
    def concat(batches: list[ColumnBatch]) -> ColumnBatch:
        """The rows of ``batches`` one after the other."""
        if len(batches) == 1:
            return batches[0]
        parts = [p for b in batches for p in b._parts]
        if all(b._rows is None for b in batches):
            return ColumnBatch(parts)
        rows, base = [], 0
        for b in batches:
            rows.append((np.arange(b._n) if b._rows is None else b._rows) + base)
            base += b._n
        return ColumnBatch(parts, np.concatenate(rows))

    def timestamps(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(ns, set)`` per row: the native reader's event times (int64 nanoseconds since 1970,
        UTC) and where they are set; None when no part has any (then ``TimeCreated`` has them all)."""
        if not any(TIMES in p[1] for p in self._parts):
            return None
        ns = np.concatenate([np.frombuffer(p[1][TIMES][0], dtype=np.int64) if TIMES in p[1]
                             else np.zeros(p[0], dtype=np.int64) for p in self._parts])
        ok = np.concatenate([np.frombuffer(p[1][TIMES][1], dtype=np.uint8).astype(bool) if TIMES in p[1]
                             else np.zeros(p[0], dtype=bool) for p in self._parts])
        if self._rows is not None:
            ns, ok = ns[self._rows], ok[self._rows]
        return ns, ok

    def column(self, name: str) -> np.ndarray:
        """Field ``name`` of every row as an object array (``None`` where absent)."""
        codes, values = self.coded(name)
        return values[codes]

    def coded(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Field ``name`` as ``(codes, values)``: ``values[codes]`` is :meth:`column`; ``values`` is
        an object array of the part's distinct texts and integers, rows' patch values, and ``None``
        (not necessarily unique), so a per-value function runs once per distinct value, not per row."""
        full = self._cache.get(name)
        if full is None:
            full = _coded(self._parts, name)
            self._cache[name] = full
        codes, values = full
        return (codes if self._rows is None else codes[self._rows]), values


def _objects(items: list[Any]) -> np.ndarray:
    """A 1-d object array of ``items`` (lists and tuples stay single values)."""
    return np.fromiter(items, dtype=object, count=len(items))


def _coded(parts: list[ColumnPart], name: str) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`ColumnBatch.coded` of all parts: the reader's dictionary encoding joined over the
    parts (vectorised), integers as Python ints (what the JSON decoder yields), patches last, the
    parts' entries then deduplicated (``pd.factorize``, as the row-wise path groups values)."""
    n = sum(p[0] for p in parts)
    have = [p[1][name] for p in parts if name in p[1]]
    if len(have) != len(parts) or not any(b[1] or b[4] for b in have):   # no value in any row
        codes = np.zeros(n, dtype=np.int64)
        values = np.array([None], dtype=object)
        have = []
    else:
        # all parts at once: join the buffers, rebase offsets and codes with vectorised adds
        sizes = np.array([len(b[0]) // 4 - 1 for b in have], dtype=np.int64)
        lengths = np.array([len(b[1]) for b in have], dtype=np.int64)
        offsets = np.frombuffer(b"".join(b[0] for b in have), dtype=np.int32).astype(np.int64)
        offsets += np.repeat(np.cumsum(lengths) - lengths, sizes + 1)
        first = np.cumsum(sizes + 1) - (sizes + 1)          # each part's leading offset ...
        keep = np.ones(len(offsets), dtype=bool)
        keep[first[1:]] = False                             # ... equals the previous part's last one
        words = pa.Array.from_buffers(pa.large_string(), int(sizes.sum()), [
            None, pa.py_buffer(offsets[keep]), pa.py_buffer(b"".join(b[1] for b in have))])
        values = np.append(words.to_numpy(zero_copy_only=False), None)
        raw = np.frombuffer(b"".join(b[2] for b in have), dtype=np.int32)
        codes = raw + np.repeat(np.cumsum(sizes) - sizes, [p[0] for p in parts])
        codes[raw < 0] = len(values) - 1
    if any(b[4] or KIND_BIG_INT in b[3] for b in have):
        kind = np.frombuffer(b"".join(b[3] for b in have), dtype=np.uint8)
        extra: list[Any] = []
        if any(b[4] for b in have):   # JSON integers: the same Python ints the JSON decoder gives
            ints = np.frombuffer(b"".join(b[4] or bytes(8 * p[0]) for p, b in zip(parts, have, strict=True)),
                                 dtype=np.int64)
            rows = np.flatnonzero(kind == KIND_INT)
            distinct, inverse = np.unique(ints[rows], return_inverse=True)
            codes[rows] = len(values) + inverse
            extra += distinct.astype(object).tolist()
        big = np.flatnonzero(kind == KIND_BIG_INT)
        if len(big):
            distinct, inverse = np.unique(codes[big], return_inverse=True)
            codes[big] = len(values) + len(extra) + inverse
            extra += [int(values[c]) for c in distinct]
        values = np.append(values, _objects(extra))
    base_row = 0
    patched: list[Any] = []
    for rows_n, _, patches in parts:
        for row, rec in patches.items():
            codes[base_row + row] = len(values) + len(patched)
            patched.append(getattr(rec, name, None))
        base_row += rows_n
    if patched:
        values = np.append(values, _objects(patched))
    if len(parts) > 1:   # each part has its own dictionary: one entry per distinct value overall
        try:
            inverse, distinct = pd.factorize(values, use_na_sentinel=False)
        except TypeError:   # an unhashable value (a JSON list from a patch): keep the entries
            return codes, values
        codes = inverse[codes]
        # factorize gives the None entry back as NaN (no NaN comes from the reader itself)
        values = np.asarray(distinct, dtype=object)
        for at in np.flatnonzero(pd.isna(values)):   # (pd.isna scans in C; only float NaN becomes None)
            if isinstance(values[at], float):
                values[at] = None
    return codes, values


class RecordBatcher:
    """Accumulates raw records of consecutive sources; yields canonical frames of up to ``batch_size``.

    Records of one batch are all of one format (the batch is flushed when the format changes), so
    they are all of one kind (dicts, the EVTX reader's attribute records, or :class:`ColumnBatch`
    blocks; a change of kind flushes too). Should normalising a
    shared batch fail, its files are normalised one by one so only the culprit is reported (and,
    with ``strict``, raised).
    """

    def __init__(self, *, batch_size: int, event_ids: frozenset[int] | None, strict: bool = False) -> None:
        self.batch_size = max(int(batch_size), 1)
        self.event_ids = event_ids
        self.strict = strict
        self._records: list[Any] = []
        self._blocks: list[ColumnBatch] = []
        self._block_rows = 0
        self._segments: list[Segment] = []
        self._format: str | None = None

    def add(self, records: Iterable[Any], *, source_file: str, source_format: str,
            report: FileReport) -> Iterator[pd.DataFrame]:
        """Take the records of one source; yield the frames of every batch that fills up meanwhile.

        Records read before an exception in ``records`` stay in the batch (the exception propagates
        to the caller, which reports the file).
        """
        if self._format is not None and self._format != source_format:
            yield from self.flush()
        self._format = source_format
        batch, size = self._records, self.batch_size
        opened = self._pending()
        try:
            for rec in records:
                if type(rec) is ColumnBatch:   # a block of rows (native EVTX reader)
                    if batch:       # records of the other kind pending: they go first, alone
                        yield from self._close(opened, source_file, source_format, report)
                        batch, opened = self._records, 0
                    block: ColumnBatch | None = rec
                    while block is not None:   # split so no batch exceeds batch_size
                        room = size - self._block_rows
                        part, block = (block, None) if len(block) <= room else (block[:room], block[room:])
                        self._blocks.append(part)
                        self._block_rows += len(part)
                        if self._block_rows >= size:
                            yield from self._close(opened, source_file, source_format, report)
                            batch, opened = self._records, 0
                    continue
                if self._blocks:
                    yield from self._close(opened, source_file, source_format, report)
                    batch, opened = self._records, 0
                batch.append(rec)
                if len(batch) >= size:
                    yield from self._close(opened, source_file, source_format, report)
                    batch, opened = self._records, 0
        finally:
            if self._pending() > opened:
                self._segments.append(Segment(self._pending() - opened, source_file, source_format, report))

    def _pending(self) -> int:
        return len(self._records) + self._block_rows

    def _close(self, opened: int, source_file: str, source_format: str,
               report: FileReport) -> Iterator[pd.DataFrame]:
        """End the current source's segment at the pending rows and normalise the batch."""
        if self._pending() > opened:
            self._segments.append(Segment(self._pending() - opened, source_file, source_format, report))
        yield from self.flush()
        self._format = source_format

    def flush(self) -> Iterator[pd.DataFrame]:
        """Normalise the pending records (if any) and yield their frame when it has rows."""
        records: Any = self._records
        if self._blocks:
            records = ColumnBatch.concat(self._blocks)
        segments = self._segments
        self._records, self._segments, self._format = [], [], None
        self._blocks, self._block_rows = [], 0
        if not len(records):
            return
        try:
            frame, seg = normalize_batch(records, segments, event_ids=self.event_ids)
        except Exception:   # a bug or an input we did not foresee: blame only the file that has it
            yield from self._one_by_one(records, segments)
            return
        del records
        if not frame.empty:
            summarise(frame, seg, segments)
            yield frame

    def _one_by_one(self, records: Any, segments: list[Segment]) -> Iterator[pd.DataFrame]:
        """Normalise each segment alone; a segment that fails is its file's error (strict: raised)."""
        start = 0
        for segment in segments:
            part = records[start:start + segment.count]
            start += segment.count
            try:
                frame, seg = normalize_batch(part, [segment], event_ids=self.event_ids)
            except Exception as exc:
                segment.report.error = f"{type(exc).__name__}: {exc}"
                if self.strict:
                    raise IngestError(segment.report.error, SourceLocation(segment.source_file)) from exc
                continue
            if not frame.empty:
                summarise(frame, seg, [segment])
                yield frame


def summarise(frame: pd.DataFrame, seg: np.ndarray, segments: list[Segment]) -> None:
    """Add each segment's kept count, ``Channel:EventID`` counts, hosts and time range to its report.

    A file split over two batches has two segments with the same report: the counts add up.
    """
    if len(segments) == 1:
        summarise_file(segments[0].report, frame)
        return
    reports = [s.report for s in segments]
    w = _weights(frame)
    for s, n in enumerate(np.bincount(seg, weights=w, minlength=len(segments))):
        reports[s].kept += int(n)
    channel = frame["channel"]
    by_id = pd.DataFrame({"s": seg, "c": channel.cat.codes.to_numpy(), "e": frame["event_id"].to_numpy(),
                          "w": w})
    names = channel.cat.categories
    for (s, c, e), n in by_id.groupby(["s", "c", "e"], sort=False)["w"].sum().items():
        reports[s].event_ids[f"{names[c]}:{e}"] += int(n)
    hosts = pd.DataFrame({"s": seg, "h": frame["host"], "w": w}).groupby(["s", "h"], sort=False)["w"].sum()
    for (s, host), n in hosts.items():
        reports[s].hosts[host] += int(n)
    span = frame["ts"].groupby(seg).agg(["min", "max"])
    for s, lo, hi in zip(span.index, span["min"], span["max"], strict=True):
        fr = reports[s]
        lo, hi = lo.to_pydatetime(warn=False), hi.to_pydatetime(warn=False)
        fr.first_ts = lo if fr.first_ts is None else min(fr.first_ts, lo)
        fr.last_ts = hi if fr.last_ts is None else max(fr.last_ts, hi)


def summarise_file(fr: FileReport, frame: pd.DataFrame) -> None:
    """Add a frame's kept counts, event ids, hosts and time range to its one file report.

    Counted on integer codes (category codes, factorised host names; keys in order of first
    appearance, as a ``groupby(sort=False)``): no Python object is built per row.
    """
    if frame.empty:
        return
    w = _weights(frame)
    fr.kept += int(w.sum())
    channel = frame["channel"]
    names = channel.cat.categories
    pair = channel.cat.codes.to_numpy().astype(np.int64) * (1 << 32) + frame["event_id"].to_numpy(np.int64)
    keys, sums = _sums_by(pair, w)
    for key, n in zip(keys, sums, strict=True):
        c = (key + (1 << 31)) >> 32                 # event ids are 32-bit: the pair decodes exactly
        fr.event_ids[f"{names[c]}:{key - (c << 32)}"] += n
    hosts, sums = _sums_by(frame["host"], w)
    fr.hosts.update(dict(zip(hosts, sums, strict=True)))
    lo = frame["ts"].min().to_pydatetime(warn=False)
    hi = frame["ts"].max().to_pydatetime(warn=False)
    fr.first_ts = lo if fr.first_ts is None else min(fr.first_ts, lo)
    fr.last_ts = hi if fr.last_ts is None else max(fr.last_ts, hi)


def _sums_by(values: Any, w: np.ndarray) -> tuple[Any, list[int]]:
    """The distinct non-missing ``values`` (in order of first appearance) and the sum of ``w`` over
    the rows holding each."""
    codes, uniques = pd.factorize(values)
    ok = codes >= 0
    sums = np.bincount(codes[ok], weights=w[ok], minlength=len(uniques))
    keys = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    return keys, np.rint(sums).astype(np.int64).tolist()


def _weights(frame: pd.DataFrame) -> np.ndarray:
    """Events per row (``repeats``, missing = 1; ``ingest.schema``) as int64: what the report counts."""
    if "repeats" not in frame.columns:
        return np.ones(len(frame), dtype=np.int64)
    return frame["repeats"].fillna(1).to_numpy(dtype=np.int64)
