"""latgraph ingest: bytes on disk -> canonical event rows (see :mod:`ingest.schema`).

This package never imports :mod:`graph` or :mod:`app`; it knows Windows semantics, not judgement.

Public API::

    load_events(paths, *, event_ids=None, formats=None, strict=False, workers=None,
                on_progress=None, resolve=True, batch_size=BATCH_SIZE) -> (DataFrame, IngestReport)
    iter_event_batches(paths, *, event_ids=None, formats=None, strict=False, report=None,
                       on_progress=None, batch_size=BATCH_SIZE) -> Iterator[DataFrame]
    ingest.case.write_case(frame, path) / ingest.case.read_case(path)
    ingest.formats.FORMATS / ingest.formats.detect_format(path)
    ingest.writers.write_events(frame, path, fmt)

``paths`` may mix files, directories (recursed), ``.gz``, ``.zip`` and case files (Parquet).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from ingest import formats as _formats
from ingest.batching import RecordBatcher, summarise_file
from ingest.compact import share_constant_columns
from ingest.errors import IngestError, LatgraphError, SourceLocation
from ingest.formats.evtx_file import native_available
from ingest.report import BENIGN_REASONS, FileReport, IngestReport
from ingest.schema import empty_frame, validate_frame

#: Raw records normalised per frame (bounded memory: one batch of Python dicts at a time).
BATCH_SIZE = 50_000
#: With ``workers=None`` a process pool is only started for inputs of at least this many bytes:
#: below it the whole run takes a second or two in-process, and starting workers, importing pandas
#: in them and pickling their frames back costs about as much as it saves.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
#: The same threshold for ``.evtx`` bytes read by the Rust EVTX reader, which reads them so fast
#: that the pool's fixed costs dominate longer. Measured with ``bench/pool.py`` (copies of the real
#: data-set EVTX files, medians) on a quiet machine (2026-12-03, load 0.9-1.8; docs/ingest.md): 2
#: workers vs 1 took 0.85x at 50 MB, 0.97x at 60 and 75 MB, 1.02x at 90 MB, 1.11-1.22x at 100 MB,
#: 1.20-1.26x at 125-150 MB, 1.32x at 200 MB, 1.43x at 300 MB, 1.52x at 400 MB. So a pool from
#: 100 MB, the smallest size where it won in both runs.
PARALLEL_MIN_EVTX_BYTES = 100 * 1000 * 1000

ProgressCallback = Callable[[int, int, str], None]
PathLike = str | os.PathLike[str]


class _StrictFileReport(FileReport):
    """A FileReport that raises on the first real problem (``strict=True``)."""

    def skip(self, reason: str, example: str | None = None) -> None:
        super().skip(reason, example)
        if reason not in BENIGN_REASONS:
            raise IngestError(f"{reason}: {example or ''}".rstrip(": "), SourceLocation(self.path))

    def skip_many(self, reason: str, count: int, example: str | None = None) -> None:
        super().skip_many(reason, count, example)
        if reason not in BENIGN_REASONS:
            raise IngestError(f"{reason}: {example or ''}".rstrip(": "), SourceLocation(self.path))

    def warn(self, reason: str, message: str) -> None:
        super().warn(reason, message)
        raise IngestError(f"{reason}: {message}", SourceLocation(self.path))


def _new_file_report(report: IngestReport, name: str, strict: bool) -> FileReport:
    fr = _StrictFileReport(path=name) if strict else FileReport(path=name)
    report.files.append(fr)
    return fr


def _source_frames(src: Any, fr: FileReport, batcher: RecordBatcher, *, fmt_name: str | None,
                   event_ids: frozenset[int] | None, threads: int) -> Iterator[pd.DataFrame]:
    """Frames that complete while one source (file, .gz content or zip member) is read; its records
    may also wait in ``batcher`` for the next batch. Problems go to ``fr``."""
    if fmt_name is None and _formats.is_case_file(src):
        from ingest.case import read_case  # pyarrow.parquet: imported only when a case file is read

        fr.format = "case"
        frame = read_case(src.path)
        fr.records_read += len(frame)
        if event_ids is not None:
            frame = frame[frame["event_id"].isin(list(event_ids))]
        summarise_file(fr, frame)
        yield frame
        return
    fmt = _formats.FORMATS[fmt_name] if fmt_name else _formats.detect_format(src)
    fr.format = fmt.name
    yield from batcher.add(fmt.iter_records(src, event_ids=event_ids, report=fr, threads=threads),
                           source_file=src.name, source_format=fmt.name, report=fr)


def _file_batches(path: str, report: IngestReport, batcher: RecordBatcher, *, fmt_name: str | None,
                  event_ids: frozenset[int] | None, strict: bool, threads: int) -> Iterator[pd.DataFrame]:
    """Frames completed while one input file (all members of an archive) is read; the caller flushes
    ``batcher`` after the last file. One bad member never stops the rest."""
    try:
        sources = _formats.expand_paths([path])
    except LatgraphError as exc:
        fr = _new_file_report(report, path, False)
        fr.error = exc.message
        if strict:
            raise
        return
    for src in sources:
        fr = _new_file_report(report, src.name, strict)
        try:
            yield from _source_frames(src, fr, batcher, fmt_name=fmt_name, event_ids=event_ids,
                                      threads=threads)
        except LatgraphError as exc:
            fr.error = exc.message if exc.source and exc.source.file == src.name else str(exc)
            if strict:
                raise
        except Exception as exc:  # a reader bug or an unreadable container: report, go on
            fr.error = f"{type(exc).__name__}: {exc}"
            if strict:
                raise IngestError(fr.error, SourceLocation(src.name)) from exc
        if not fr.error and fr.records_read == 0 and fr.format not in {"case"}:
            fr.error = "no records (empty file)"
            if strict:
                raise IngestError(fr.error, SourceLocation(src.name))


def _input_files(paths: Iterable[PathLike] | PathLike) -> list[str]:
    """Top-level inputs -> files (directories recursed, sorted); missing paths kept to be reported."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            # non-regular entries (FIFOs, devices, sockets, dangling links) are listed so they are
            # reported (refused, or "no such file"), never skipped silently
            files.extend(str(f) for f in sorted(path.rglob("*"))
                         if not f.is_dir() and not f.name.startswith("."))
        else:
            files.append(str(path))
    return files


def _check_formats(formats_: Sequence[str] | str | None) -> str | None:
    from ingest.errors import ConfigError

    if formats_ is None:
        return None
    names = [formats_] if isinstance(formats_, str) else list(formats_)
    if len(names) != 1 or names[0] not in _formats.FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(_formats.FORMATS)}; got {names}")
    return names[0]


def iter_event_batches(paths: Iterable[PathLike] | PathLike, *, event_ids: Iterable[int] | None = None,
                       formats: Sequence[str] | str | None = None, strict: bool = False,
                       report: IngestReport | None = None, on_progress: ProgressCallback | None = None,
                       batch_size: int = BATCH_SIZE) -> Iterator[pd.DataFrame]:
    """Stream canonical frames (at most ``batch_size`` source records each), one process, bounded memory.

    Args:
        paths: files, directories, ``.gz``/``.zip`` archives and case files, mixed.
        event_ids: ids to keep; ``None`` = :data:`ingest.winevents.KEPT_EVENT_IDS`.
        formats: force one format name (skips detection), e.g. ``"evtx"``.
        strict: raise :class:`IngestError` (naming file and record) on the first problem.
        report: filled with per-file counts as the stream is consumed.
        on_progress: ``on_progress(done_files, total_files, path)`` after each input file.
        batch_size: raw records per normalised frame.
    """
    fmt_name = _check_formats(formats)
    ids = None if event_ids is None else frozenset(int(i) for i in event_ids)
    report = report if report is not None else IngestReport()
    files = _input_files(paths)
    batcher = RecordBatcher(batch_size=batch_size, event_ids=ids, strict=strict)
    for done, path in enumerate(files, 1):
        yield from (f for f in _file_batches(path, report, batcher, fmt_name=fmt_name, event_ids=ids,
                                             strict=strict, threads=0) if not f.empty)
        if on_progress:
            on_progress(done, len(files), path)
    yield from batcher.flush()


def _worker(paths: list[str], fmt_name: str | None, ids: frozenset[int] | None, strict: bool,
            batch_size: int) -> tuple[pd.DataFrame, IngestReport]:
    """Process-pool task: a group of input files -> (one frame, their report)."""
    report = IngestReport()
    batcher = RecordBatcher(batch_size=batch_size, event_ids=ids, strict=strict)
    frames = [f for path in paths
              for f in _file_batches(path, report, batcher, fmt_name=fmt_name, event_ids=ids, strict=strict,
                                     threads=1)]
    frames.extend(batcher.flush())
    for fr in report.files:   # plain FileReports pickle cleanly
        fr.__class__ = FileReport
    return _concat(frames), report


def _groups(files: list[str], n_workers: int) -> list[list[str]]:
    """Files in contiguous groups of similar total size, about 4 per worker (few, large tasks:
    less pickling and scheduling than one task per small file, still balanced)."""
    sizes = [os.path.getsize(f) if os.path.isfile(f) else 0 for f in files]
    target = max(sum(sizes) / (4 * n_workers), 1)
    groups: list[list[str]] = [[]]
    acc = 0.0
    for f, size in zip(files, sizes, strict=True):
        if groups[-1] and acc + size > target:
            groups.append([])
            acc = 0.0
        groups[-1].append(f)
        acc += size
    return groups


def _pool_pays(files: list[str]) -> bool:
    """True when the input is large enough for a process pool to pay: each file counts its size
    over its threshold (:data:`PARALLEL_MIN_EVTX_BYTES` for ``.evtx`` with the Rust reader, else
    :data:`PARALLEL_MIN_BYTES`; compressed size for archives, 0 for what is not a file), and the
    shares add up to at least 1."""
    native = native_available()
    share = 0.0
    for f in files:
        if os.path.isfile(f):
            limit = PARALLEL_MIN_EVTX_BYTES if native and f.lower().endswith(".evtx") else PARALLEL_MIN_BYTES
            if limit <= 0:
                return True
            share += os.path.getsize(f) / limit
    return share >= 1.0


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One canonical frame from many (categories unified first so no column falls back to object)."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_frame()
    if len(frames) == 1:
        return validate_frame(frames[0])
    cats = {c: sorted(set().union(*(f[c].cat.categories for f in frames)))
            for c in ("channel", "source_format")}
    frames = [f.assign(**{c: f[c].cat.set_categories(v) for c, v in cats.items()}) for f in frames]
    return validate_frame(pd.concat(frames, ignore_index=True))


def load_events(paths: Iterable[PathLike] | PathLike, *, event_ids: Iterable[int] | None = None,
                formats: Sequence[str] | str | None = None, strict: bool = False, workers: int | None = None,
                on_progress: ProgressCallback | None = None, resolve: bool = True,
                batch_size: int = BATCH_SIZE) -> tuple[pd.DataFrame, IngestReport]:
    """Read everything under ``paths`` into one canonical frame (sorted by ``ts``) and its report.

    Args:
        paths: files, directories (recursed), ``.gz``/``.zip`` archives and case files, mixed.
        event_ids: ids to keep; ``None`` = :data:`ingest.winevents.KEPT_EVENT_IDS`.
        formats: force one format name (skips detection).
        strict: fail fast: raise :class:`IngestError` naming the file (and record) on the first problem.
        workers: processes for multi-file runs (``None`` = all cores when the input files are large
            enough for a pool to pay, see :data:`PARALLEL_MIN_BYTES` and
            :data:`PARALLEL_MIN_EVTX_BYTES`, else in-process; a number is always honoured, up to the
            number of files; 1 = in-process).
        on_progress: ``on_progress(done_files, total_files, path)`` after each input file.
        resolve: fill missing ``src_host``/``dst_host`` from IP evidence (:func:`ingest.resolve.resolve_ips`).
        batch_size: raw records per normalised batch.

    Returns:
        ``(events, report)``; files that fail are in ``report`` and never abort the run (unless strict).
        Constant text columns are stored once (:func:`ingest.compact.share_constant_columns`).
    """
    fmt_name = _check_formats(formats)
    ids = None if event_ids is None else frozenset(int(i) for i in event_ids)
    files = _input_files(paths)
    n_workers = min(workers or os.cpu_count() or 1, max(len(files), 1))
    if workers is None and n_workers > 1 and not _pool_pays(files):
        n_workers = 1
    report = IngestReport()
    frames: list[pd.DataFrame] = []
    if n_workers <= 1:
        batcher = RecordBatcher(batch_size=batch_size, event_ids=ids, strict=strict)
        for done, path in enumerate(files, 1):
            frames.extend(_file_batches(path, report, batcher, fmt_name=fmt_name, event_ids=ids,
                                        strict=strict, threads=0))
            if on_progress:
                on_progress(done, len(files), path)
        frames.extend(batcher.flush())
    else:
        results: dict[int, tuple[pd.DataFrame, IngestReport]] = {}
        groups = _groups(files, n_workers)
        done = 0
        with ProcessPoolExecutor(max_workers=n_workers) as pool:
            futures = {pool.submit(_worker, g, fmt_name, ids, strict, batch_size): i
                       for i, g in enumerate(groups)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                for path in groups[i]:
                    done += 1
                    if on_progress:
                        on_progress(done, len(files), path)
        for i in sorted(results):   # deterministic order whatever finished first
            frames.append(results[i][0])
            report.merge(results[i][1])
    events = _concat(frames)
    if len(events) and not events["ts"].is_monotonic_increasing:   # (a streamed case already is: no copy)
        events = events.sort_values("ts", kind="stable")
    events = events.reset_index(drop=True)
    if resolve and len(events):
        from ingest.resolve import resolve_ips
        events = resolve_ips(events)
    # constant text columns (all missing, or one file name) held once (ingest.compact)
    return share_constant_columns(events), report


__all__ = ["BATCH_SIZE", "PARALLEL_MIN_BYTES", "PARALLEL_MIN_EVTX_BYTES", "iter_event_batches", "load_events"]
