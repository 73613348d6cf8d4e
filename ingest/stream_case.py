"""Bounded-memory case files: raw inputs -> a Parquet case, batch by batch (``latgraph ingest --stream``).

:func:`ingest.load_events` + :func:`ingest.case.write_case` hold the whole case in memory, because
they sort it by time and resolve addresses over all of it. For inputs larger than memory,
:func:`ingest_to_case` streams instead:

1. every canonical batch from :func:`ingest.iter_event_batches` goes to a temporary Parquet file as
   soon as it is normalised; only its IP-to-host evidence (:func:`ingest.resolve.ip_evidence`, a
   few rows per address and time) is kept;
2. the file is read back one row group at a time, missing host names are filled from the evidence
   of the *whole* case (the same rule as :func:`ingest.resolve.resolve_ips`, so the same names),
   and the final case file is written. Without any evidence (no address tied to a name anywhere,
   e.g. LANL ``auth.txt``) nothing can be filled: the temporary file is the case, no second pass.

Peak memory: one batch plus the evidence table. Rows keep input order, not time order: readers
sort on load (:func:`ingest.load_events`) or do not need it (the Spark engine reading the case).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest import BATCH_SIZE, ProgressCallback, iter_event_batches
from ingest.atomic import atomic_path
from ingest.case import with_case_metadata
from ingest.report import IngestReport
from ingest.resolve import ip_evidence, merge_evidence, resolve_with
from ingest.schema import DTYPES, coerce_frame, validate_frame

PathLike = str | os.PathLike[str]
_CATEGORIES = [c for c, d in DTYPES.items() if d == "category"]


def _table(frame: pd.DataFrame, schema: pa.Schema | None) -> pa.Table:
    """A canonical frame as an Arrow table with one schema for every batch (categories as text:
    per-batch dictionaries differ; :func:`ingest.case.read_case` restores the categories)."""
    validate_frame(frame)
    plain = frame.astype({c: "string" for c in _CATEGORIES}).reset_index(drop=True)
    table = pa.Table.from_pandas(plain, preserve_index=False)
    return with_case_metadata(table) if schema is None else table.cast(schema)


def _write_stream(frames: Iterable[pd.DataFrame], path: Path) -> tuple[int, pa.Schema | None]:
    """Write frames to one Parquet file as they come; returns (rows, schema)."""
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for frame in frames:
            if frame.empty:
                continue
            table = _table(frame, schema)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema, compression="zstd")
            writer.write_table(table)
            rows += len(frame)
    finally:
        if writer is not None:
            writer.close()
    return rows, schema


def ingest_to_case(paths: Iterable[PathLike] | PathLike, output: PathLike, *,
                   formats: Sequence[str] | str | None = None, strict: bool = False,
                   event_ids: Iterable[int] | None = None, resolve: bool = True,
                   on_progress: ProgressCallback | None = None, report: IngestReport | None = None,
                   batch_size: int = BATCH_SIZE) -> tuple[int, IngestReport]:
    """Ingest ``paths`` into the case file ``output`` in bounded memory (see module docstring).

    Args:
        paths: files, directories, archives and case files, as for :func:`ingest.load_events`.
        output: the case file to write (replaced only when the run produced events).
        formats, strict, event_ids, on_progress: as for :func:`ingest.iter_event_batches`.
        resolve: fill missing source/destination hosts from IP evidence over the whole case.
        report: filled with per-file counts (a new one when ``None``).
        batch_size: raw records per batch (and so at most rows per Parquet row group).

    Returns:
        ``(events written, report)``; with 0 events nothing is written.
    """
    report = report if report is not None else IngestReport()
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    # unique per run: two runs writing the same output never share a temporary file
    fd, part_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    part = Path(part_name)
    evidence: list[pd.DataFrame] = []

    def batches() -> Iterable[pd.DataFrame]:
        for frame in iter_event_batches(paths, event_ids=event_ids, formats=formats, strict=strict,
                                        report=report, on_progress=on_progress, batch_size=batch_size):
            if resolve:
                evidence.append(ip_evidence(frame))
            yield frame

    try:
        rows, _ = _write_stream(batches(), part)
        if rows == 0:
            return 0, report
        with atomic_path(out, suffix=".parquet.tmp") as tmp:   # the old case stays until this one is complete
            table = merge_evidence(evidence) if resolve else None
            evidence.clear()
            if table is not None and not table.empty:
                source = pq.ParquetFile(part)
                _write_stream((resolve_with(_frame(source.read_row_group(i)), table)
                               for i in range(source.num_row_groups)), tmp)
            else:   # nothing to resolve (e.g. LANL auth.txt has no addresses): the file is the case
                os.replace(part, tmp)
        return rows, report
    finally:
        if part.exists():
            part.unlink()


def _frame(table: pa.Table) -> pd.DataFrame:
    """One row group back as a canonical frame."""
    return coerce_frame(table.to_pandas())


__all__ = ["ingest_to_case"]
