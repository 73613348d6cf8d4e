"""Ingest benchmark: events/s and peak memory per format, the raw ``evtx`` parse rate of the same
EVTX files in the same run (as a ratio), 1 vs 2 workers, and peak RSS on a big streamed input.

Usage (from the repository root)::

    .venv/bin/python bench/ingest.py                 # quick: ~100k records per format
    .venv/bin/python bench/ingest.py --copies 20 --evtx-only      # the EVTX ratios (medians of 3)
    .venv/bin/python bench/ingest.py --copies 20 --big-mb 2048   # the 2 GB streaming run

The EVTX ratios are CPU-time ratios (raw parse CPU-s / ingest CPU-s, the fair figure on a shared
machine), each the median of ``--repeat`` alternating raw/ingest runs; ingest is measured on the
pure-Python path and, when the optional Rust reader ``latgraph_evtx`` (``tools/evtx-columns``) is
installed, on the native path too (``LATGRAPH_EVTX_NATIVE=0/1`` in the child). The raw baseline is
``for _ in PyEvtxParser(f).records_json()`` over the same files (pyevtx-rs' default
``number_of_threads=0``, the setting ingest uses in one process).

Every measurement runs in a fresh child process; peak memory is that process's maximum RSS
(``resource.getrusage``), which includes pyevtx-rs' Rust allocations (tracemalloc would not).
Inputs are built from the real data sets (``LATGRAPH_DATASETS`` or ``../shared/datasets``): EVTX
files are copied N times; the text formats are written with :func:`ingest.writers.write_events`
from the canonical events of those files, repeated with shifted timestamps.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATASETS = Path(os.environ.get("LATGRAPH_DATASETS", REPO.parent / "shared" / "datasets"))


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children (ingest workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peak_mb() -> float:
    """Peak RSS of this process or of its largest finished child (ingest workers), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _raw_evtx(files: list[str]) -> dict[str, Any]:
    from evtx import PyEvtxParser

    _warm()      # same process state as the ingest run
    t0, c0, n = time.perf_counter(), _cpu_s(), 0
    for f in files:
        for _ in PyEvtxParser(f).records_json():
            n += 1
    return {"records": n, "seconds": time.perf_counter() - t0, "peak_mb": _peak_mb(), "cpu_s": _cpu_s() - c0}


def _warm() -> None:
    """Import everything ingest may import lazily, so one-off import time is not measured."""
    import ingest.case
    import ingest.formats
    import ingest.records
    import ingest.resolve  # noqa: F401


def _ingest(files: list[str], workers: int, native: bool | None = None) -> dict[str, Any]:
    """``load_events`` of ``files``; ``native`` True/False forces the Rust EVTX reader on/off."""
    if native is not None:
        os.environ["LATGRAPH_EVTX_NATIVE"] = "1" if native else "0"
    from ingest import load_events

    _warm()

    t0, c0 = time.perf_counter(), _cpu_s()
    events, report = load_events(files, workers=workers, resolve=False)
    return {"records": report.records_read, "kept": len(events), "seconds": time.perf_counter() - t0,
            "peak_mb": _peak_mb(), "problems": report.problem_count, "cpu_s": _cpu_s() - c0}


def _native_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("latgraph_evtx") is not None


def _stages(files: list[str]) -> dict[str, float]:
    """Where ingest's CPU time goes per record: parse, id filter, decode, normalise (one process);
    the pure-Python path's stages, and the native reader's read + normalise when it is installed."""
    os.environ["LATGRAPH_EVTX_NATIVE"] = "0"
    from evtx import PyEvtxParser

    from ingest.formats import evtx_file as ef
    from ingest.formats.base import Source
    from ingest.records import Segment, normalize_batch
    from ingest.report import FileReport

    _warm()

    def cpu(fn: Any) -> tuple[float, Any]:
        """Least CPU time of three runs (noise on a shared machine only ever adds)."""
        best, out = float("inf"), None
        for _ in range(3):
            c0 = _cpu_s()
            out = fn()
            best = min(best, _cpu_s() - c0)
        return best, out

    raw, n = cpu(lambda: sum(1 for f in files for _ in PyEvtxParser(f).records_json()))
    tokens = {str(i): i for i in ef.KEPT_EVENT_IDS}
    filt, _ = cpu(lambda: sum(1 for f in files for r in PyEvtxParser(f).records_json()
                              if tokens.get(r["data"][r["data"].find('"EventID":') + 10:
                                                      r["data"].find(",", r["data"].find('"EventID":'))])))
    read, recs = cpu(lambda: [r for f in files
                              for r in ef.iter_records(Source(f), event_ids=None, report=FileReport(f))])

    def normalise() -> int:
        kept = 0
        for i in range(0, len(recs), 50_000):
            part = recs[i:i + 50_000]
            kept += len(normalize_batch(part, [Segment(len(part), "f", "evtx", FileReport("f"))])[0])
        return kept

    norm, kept = cpu(normalise)
    out = {"records": n, "decoded": len(recs), "kept": kept, "parse": raw / n, "filter": (filt - raw) / n,
           "decode": (read - filt) / max(len(recs), 1), "normalise": norm / max(len(recs), 1)}
    if _native_installed():
        from ingest.batching import ColumnBatch

        os.environ["LATGRAPH_EVTX_NATIVE"] = "1"
        nread, blocks = cpu(lambda: [b for f in files for b in
                                     ef.iter_records(Source(f), event_ids=None, report=FileReport(f))])

        def normalise_columns() -> int:
            batch = ColumnBatch.concat([*blocks, ColumnBatch([])])   # a new batch: no columns cached yet
            return len(normalize_batch(batch, [Segment(len(batch), "f", "evtx", FileReport("f"))])[0])

        nnorm, _ = cpu(normalise_columns)
        rows = max(sum(len(b) for b in blocks), 1)
        out.update(native_read=nread / n, native_rows=rows, native_normalise=nnorm / rows)
    return out


def _stream(files: list[str]) -> dict[str, Any]:
    from ingest import iter_event_batches
    from ingest.report import IngestReport

    _warm()

    report = IngestReport()
    t0, c0, kept = time.perf_counter(), _cpu_s(), 0
    for batch in iter_event_batches(files, report=report):
        kept += len(batch)            # a consumer that keeps nothing: memory must stay flat
    return {"records": report.records_read, "kept": kept, "seconds": time.perf_counter() - t0,
            "peak_mb": _peak_mb(), "problems": report.problem_count, "cpu_s": _cpu_s() - c0}


def _to_case(files: list[str], out: str, stream: bool) -> dict[str, Any]:
    """``latgraph ingest FILES -o out [--stream]`` without the CLI: the case file is written."""
    from ingest import load_events
    from ingest.case import write_case
    from ingest.stream_case import ingest_to_case

    _warm()
    t0, c0 = time.perf_counter(), _cpu_s()
    if stream:
        kept, report = ingest_to_case(files, out)
    else:
        events, report = load_events(files, workers=1)
        write_case(events, out)
        kept = len(events)
    return {"records": report.records_read, "kept": kept, "seconds": time.perf_counter() - t0,
            "peak_mb": _peak_mb(), "problems": report.problem_count, "cpu_s": _cpu_s() - c0}


def run_child(func: Any, *args: Any) -> dict[str, Any]:
    """Run ``func(*args)`` in a fresh process (clean peak RSS) and return its result."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def repeat_chunks(src: str, dst: Path, times: int) -> Path:
    """A big EVTX file made of a real file's 64 KiB chunks repeated ``times`` times.

    EVTX chunks are self-contained (own string and template tables, own checksums), so the copy is
    a valid log of realistic records; only the file header (chunk count, CRC32) is rewritten.
    """
    import struct
    import zlib

    data = Path(src).read_bytes()
    header, body = bytearray(data[:4096]), data[4096:]
    chunks = [body[i:i + 65536] for i in range(0, len(body) - 65535, 65536)
              if body[i:i + 8] == b"ElfChnk\x00"]
    total = len(chunks) * times
    struct.pack_into("<Q", header, 8, 0)
    struct.pack_into("<Q", header, 16, total - 1)
    struct.pack_into("<H", header, 42, min(total, 0xFFFF))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    with open(dst, "wb") as out:
        out.write(header)
        for _ in range(times):
            for chunk in chunks:
                out.write(chunk)
    return dst


def build_inputs(work: Path, copies: int, text_formats: bool = True) -> dict[str, list[str]]:
    """EVTX copies of the real files, and the same events written in every text format."""
    import pandas as pd

    from ingest import load_events
    from ingest.writers import write_events

    evtx = sorted(str(p) for p in DATASETS.rglob("*.evtx"))
    if not evtx:
        sys.exit(f"no EVTX files under {DATASETS} (set LATGRAPH_DATASETS)")
    (work / "evtx").mkdir()
    inputs: dict[str, list[str]] = {"evtx": []}
    for i in range(copies):
        for f in evtx:
            dst = work / "evtx" / f"{i:03d}_{Path(f).name}"
            shutil.copy(f, dst)
            inputs["evtx"].append(str(dst))
    if not text_formats:
        return inputs
    base, _ = load_events(evtx + [str(p) for p in DATASETS.rglob("*.zip")], workers=1, resolve=False)
    span = base["ts"].max() - base["ts"].min() + pd.Timedelta(days=1)
    big = pd.concat([base.assign(ts=base["ts"] + i * span) for i in range(copies)], ignore_index=True)
    for fmt in ("xml", "winlogbeat", "otrf", "mde-csv", "lanl"):
        path = work / f"events.{fmt}"
        write_events(big, path, fmt)
        inputs[fmt] = [str(path)]
    return inputs


def write_big(work: Path, megabytes: int) -> tuple[str, int]:
    """A Winlogbeat JSON-lines file of about ``megabytes`` MB, written in streamed chunks."""
    from ingest import load_events
    from ingest.writers import write_events

    base, _ = load_events([str(p) for p in DATASETS.rglob("*.evtx")], workers=1, resolve=False)
    chunk = work / "chunk.ndjson"
    write_events(base, chunk, "winlogbeat")
    data = chunk.read_bytes()
    path = work / "big.ndjson"
    del base
    with open(path, "wb") as out:
        while out.tell() < megabytes * 1024 * 1024:
            out.write(data)       # same events again; timestamps repeat, which ingest does not mind
    return str(path), path.stat().st_size


def fmt_row(name: str, r: dict[str, Any]) -> str:
    rate = r["records"] / r["seconds"] if r["seconds"] else 0.0
    cpu_rate = r["records"] / r["cpu_s"] if r.get("cpu_s") else 0.0
    return (f"{name:<26} {r['records']:>9,} rec {r.get('kept', r['records']):>9,} kept "
            f"{r['seconds']:>7.2f} s wall {rate:>8,.0f} rec/s | {r.get('cpu_s', 0):>6.2f} CPU-s "
            f"{cpu_rate:>8,.0f} rec/CPU-s | peak RSS {r['peak_mb']:>5.0f} MB")


def evtx_ratio(label: str, files: list[str], repeat: int) -> dict[str, Any]:
    """Raw parse and ingest of ``files``, alternating, ``repeat`` times; prints the median ratios and
    returns the median ingest run."""
    import statistics

    variants = {"python": False, "native": True} if _native_installed() else {"python": False}
    raws: list[dict[str, Any]] = []
    ours: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for _ in range(max(repeat, 1)):
        raws.append(run_child(_raw_evtx, files))
        for name, native in variants.items():
            ours[name].append(run_child(_ingest, files, 1, native))
    raw_rate = statistics.median(r["records"] / r["cpu_s"] for r in raws)
    print(f"  {label:<30} raw evtx parse {raw_rate:>9,.0f} rec/CPU-s")
    mid: dict[str, Any] = {}
    for name, runs in ours.items():
        cpu = statistics.median(r["cpu_s"] / o["cpu_s"] for r, o in zip(raws, runs, strict=True))
        wall = statistics.median(r["seconds"] / o["seconds"] for r, o in zip(raws, runs, strict=True))
        mid = sorted(runs, key=lambda o: o["cpu_s"])[len(runs) // 2]
        print(f"    ingest, {name + ' path':<13} {mid['records']:>9,} rec {mid['kept']:>9,} kept "
              f"{mid['records'] / mid['cpu_s']:>9,.0f} rec/CPU-s -> ratio {cpu:.2f} ({wall:.2f}); "
              f"peak RSS {mid['peak_mb']:.0f} MB")
    return mid


def print_stages(files: list[str]) -> None:
    """Print where ingest's CPU time goes per record (see :func:`_stages`)."""
    st = run_child(_stages, files)
    print(f"    per record: parse {st['parse'] * 1e6:.2f} us + id filter {st['filter'] * 1e6:.2f} us; "
          f"per decoded record ({st['decoded']:,}): decode (incl. per-file work) {st['decode'] * 1e6:.2f} us"
          f" + "
          f"normalise and frame {st['normalise'] * 1e6:.2f} us")
    if "native_read" in st:
        print(f"    native path: read (parse, filter, columns) {st['native_read'] * 1e6:.2f} us per record; "
              f"normalise and frame {st['native_normalise'] * 1e6:.2f} us per kept record "
              f"({st['native_rows']:,})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=8, help="copies of the real EVTX files (default 8)")
    ap.add_argument("--big-mb", type=int, default=0, help="also stream a Winlogbeat file of this many MB")
    ap.add_argument("--workdir", default=None, help="where to build inputs (default: a temp dir)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternating raw/ingest runs per EVTX ratio (median; default 3)")
    ap.add_argument("--evtx-only", action="store_true", help="only the EVTX figures (skip the text formats)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="latgraph-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; inputs in {work}")
    inputs = build_inputs(work, args.copies, text_formats=not args.evtx_only)
    evtx = inputs["evtx"]
    kept_only = [f for f in evtx if f.endswith("_smb-password-guessing-security.evtx")]   # 100% kept
    filtered = [f for f in evtx if f.endswith("_system.evtx")]        # a System log: 3% kept (7045)
    print(f"EVTX ingest / raw evtx parse, CPU-time ratio, median of {args.repeat} alternating runs "
          f"(wall ratio in brackets; one process, same files):")
    ours = evtx_ratio(f"data-set files x{args.copies}", evtx, args.repeat)
    print_stages(evtx)
    for label, subset in (("all-kept (4625 flood) x N", kept_only), ("System log (7045 only) x N", filtered)):
        evtx_ratio(label, subset, args.repeat)
    for label, name, times in (
            ("big System log, 3% kept", "omerbenamram-evtx-samples/system.evtx", 20),
            ("big Security log, 49% kept", "omerbenamram-evtx-samples/security.evtx", 20),
            ("big 4625 flood, 100% kept", "deepbluecli/smb-password-guessing-security.evtx", 10)):
        big = str(repeat_chunks(str(DATASETS / name), work / f"big_{times}_{Path(name).name}", times))
        evtx_ratio(label, [big], args.repeat)
        print_stages([big])
    two = run_child(_ingest, evtx, 2)
    print(fmt_row("evtx ingest, 2 workers", two))
    print(f"multi-file wall time: 1 worker {ours['seconds']:.2f} s, 2 workers {two['seconds']:.2f} s "
          f"(speed-up {ours['seconds'] / two['seconds']:.2f}x on {os.cpu_count()} CPUs); CPU time used "
          f"{ours['cpu_s']:.1f} s vs {two['cpu_s']:.1f} s (CPU/wall {ours['cpu_s'] / ours['seconds']:.2f} vs "
          f"{two['cpu_s'] / two['seconds']:.2f}); load average now {os.getloadavg()[0]:.1f}")
    if args.evtx_only:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
        return
    for fmt, files in inputs.items():
        if fmt == "evtx":
            continue
        size = sum(Path(f).stat().st_size for f in files) / 1e6
        print(fmt_row(f"{fmt} ({size:.0f} MB)", run_child(_ingest, files, 1)))
    if args.big_mb:
        (work / "small").mkdir()
        small, _ = write_big(work / "small", 50)
        big, size = write_big(work, args.big_mb)
        print(fmt_row("stream 50 MB winlogbeat", run_child(_stream, [small])))
        print(fmt_row(f"stream {size / 1e6:.0f} MB winlogbeat", run_child(_stream, [big])))
        for label, stream in (("latgraph ingest --stream", True), ("latgraph ingest (in memory)", False)):
            r = run_child(_to_case, [big], str(work / "case.parquet"), stream)
            print(fmt_row(f"{label}, {size / 1e6:.0f} MB", r))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
