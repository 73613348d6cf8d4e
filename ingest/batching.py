"""Batching across sources: records of many small files are normalised together.

A directory of EVTX files pulled from hosts is often hundreds of small logs. Normalising each file
on its own costs a fixed ~10 ms (column extraction, distinct-value maps, Arrow arrays, frame) that
dwarfs the work on its few hundred records. :class:`RecordBatcher` appends the records of
consecutive sources to one batch and normalises it once ``batch_size`` records are pending (or at
the end); each record keeps its own ``source_file``/``source_format`` and every count (kept,
skipped by reason, event ids, hosts, time range) goes to its own file's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ingest.errors import IngestError, SourceLocation
from ingest.records import Segment, normalize_batch
from ingest.report import FileReport


class RecordBatcher:
    """Accumulates raw records of consecutive sources; yields canonical frames of up to ``batch_size``.

    Records of one batch are all of one format (the batch is flushed when the format changes), so
    they are all of one kind (dicts, or the EVTX reader's attribute records). Should normalising a
    shared batch fail, its files are normalised one by one so only the culprit is reported (and,
    with ``strict``, raised).
    """

    def __init__(self, *, batch_size: int, event_ids: frozenset[int] | None, strict: bool = False) -> None:
        self.batch_size = max(int(batch_size), 1)
        self.event_ids = event_ids
        self.strict = strict
        self._records: list[Any] = []
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
        opened = len(batch)
        try:
            for rec in records:
                batch.append(rec)
                if len(batch) >= size:
                    self._segments.append(Segment(len(batch) - opened, source_file, source_format, report))
                    yield from self.flush()
                    self._format = source_format
                    batch, opened = self._records, 0
        finally:
            if len(self._records) > opened:
                self._segments.append(Segment(len(self._records) - opened, source_file, source_format,
                                              report))

    def flush(self) -> Iterator[pd.DataFrame]:
        """Normalise the pending records (if any) and yield their frame when it has rows."""
        records, segments = self._records, self._segments
        self._records, self._segments, self._format = [], [], None
        if not records:
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

    def _one_by_one(self, records: list[Any], segments: list[Segment]) -> Iterator[pd.DataFrame]:
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
    for s, n in enumerate(np.bincount(seg, minlength=len(segments))):
        reports[s].kept += int(n)
    channel = frame["channel"]
    by_id = pd.DataFrame({"s": seg, "c": channel.cat.codes.to_numpy(), "e": frame["event_id"].to_numpy()})
    names = channel.cat.categories
    for (s, c, e), n in by_id.value_counts(sort=False).items():
        reports[s].event_ids[f"{names[c]}:{e}"] += int(n)
    for (s, host), n in pd.DataFrame({"s": seg, "h": frame["host"]}).value_counts(sort=False).items():
        reports[s].hosts[host] += int(n)
    span = frame["ts"].groupby(seg).agg(["min", "max"])
    for s, lo, hi in zip(span.index, span["min"], span["max"], strict=True):
        fr = reports[s]
        lo, hi = lo.to_pydatetime(warn=False), hi.to_pydatetime(warn=False)
        fr.first_ts = lo if fr.first_ts is None else min(fr.first_ts, lo)
        fr.last_ts = hi if fr.last_ts is None else max(fr.last_ts, hi)


def summarise_file(fr: FileReport, frame: pd.DataFrame) -> None:
    """Add a frame's kept counts, event ids, hosts and time range to its one file report."""
    if frame.empty:
        return
    fr.kept += len(frame)
    keys = frame["channel"].astype(str) + ":" + frame["event_id"].astype(str)
    fr.event_ids.update(keys.value_counts().to_dict())
    fr.hosts.update(frame["host"].value_counts().to_dict())
    lo = frame["ts"].min().to_pydatetime(warn=False)
    hi = frame["ts"].max().to_pydatetime(warn=False)
    fr.first_ts = lo if fr.first_ts is None else min(fr.first_ts, lo)
    fr.last_ts = hi if fr.last_ts is None else max(fr.last_ts, hi)
