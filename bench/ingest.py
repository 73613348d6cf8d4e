"""Ingest benchmark: events/s and peak memory per format, the raw ``evtx`` parse rate of the same
EVTX files in the same run (as a ratio), 1 vs 2 workers, and peak RSS on a big streamed input.

Usage (from the repository root)::

    .venv/bin/python bench/ingest.py                 # quick: ~100k records per format
    .venv/bin/python bench/ingest.py --copies 20 --big-mb 2048   # the 2 GB streaming run

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


def _ingest(files: list[str], workers: int) -> dict[str, Any]:
    from ingest import load_events

    _warm()

    t0, c0 = time.perf_counter(), _cpu_s()
    events, report = load_events(files, workers=workers, resolve=False)
    return {"records": report.records_read, "kept": len(events), "seconds": time.perf_counter() - t0,
            "peak_mb": _peak_mb(), "problems": report.problem_count, "cpu_s": _cpu_s() - c0}


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


def build_inputs(work: Path, copies: int) -> dict[str, list[str]]:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=8, help="copies of the real EVTX files (default 8)")
    ap.add_argument("--big-mb", type=int, default=0, help="also stream a Winlogbeat file of this many MB")
    ap.add_argument("--workdir", default=None, help="where to build inputs (default: a temp dir)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="latgraph-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; inputs in {work}")
    inputs = build_inputs(work, args.copies)
    evtx = inputs["evtx"]
    raw = run_child(_raw_evtx, evtx)
    ours = run_child(_ingest, evtx, 1)
    print(fmt_row("evtx raw (records_json)", raw))
    print(fmt_row("evtx ingest, 1 process", ours))
    ratio = (ours["records"] / ours["seconds"]) / (raw["records"] / raw["seconds"])
    cpu_ratio = raw["cpu_s"] / ours["cpu_s"]
    print(f"EVTX ingest / raw evtx parse rate (single process, same files, same run): wall {ratio:.2f}, "
          f"CPU time {cpu_ratio:.2f} (CPU time is the fair figure on a loaded machine)")
    kept_only = [f for f in evtx if f.endswith("_smb-password-guessing-security.evtx")]   # 100% kept
    filtered = [f for f in evtx if f.endswith("_system.evtx")]        # a System log: 3% kept (7045)
    for label, subset in (("all-kept (4625 flood)", kept_only), ("System log (7045 only)", filtered)):
        r_raw, r_ours = run_child(_raw_evtx, subset), run_child(_ingest, subset, 1)
        print(f"  {label}: {r_ours['kept']:,} of {r_ours['records']:,} kept; ratio wall "
              f"{(r_ours['records'] / r_ours['seconds']) / (r_raw['records'] / r_raw['seconds']):.2f}, "
              f"CPU {r_raw['cpu_s'] / r_ours['cpu_s']:.2f}")
    print("one big EVTX file per kind (a real file's chunks repeated), per-record cost without "
          "per-file overhead:")
    for label, name, times in (
            ("System log, 3% kept", "omerbenamram-evtx-samples/system.evtx", 20),
            ("Security log, 49% kept", "omerbenamram-evtx-samples/security.evtx", 20),
            ("4625 flood, 100% kept", "deepbluecli/smb-password-guessing-security.evtx", 10)):
        big = str(repeat_chunks(str(DATASETS / name), work / f"big_{times}_{Path(name).name}", times))
        r_raw, r_ours = run_child(_raw_evtx, [big]), run_child(_ingest, [big], 1)
        print(f"  {label:<24} {r_ours['records']:>8,} rec, {r_ours['kept']:>8,} kept: raw "
              f"{r_raw['records'] / r_raw['cpu_s']:>9,.0f} rec/CPU-s, ingest "
              f"{r_ours['records'] / r_ours['cpu_s']:>9,.0f} rec/CPU-s, ratio CPU "
              f"{r_raw['cpu_s'] / r_ours['cpu_s']:.2f}, wall "
              f"{(r_ours['records'] / r_ours['seconds']) / (r_raw['records'] / r_raw['seconds']):.2f}; "
              f"peak RSS {r_ours['peak_mb']:.0f} MB")
    two = run_child(_ingest, evtx, 2)
    print(fmt_row("evtx ingest, 2 workers", two))
    print(f"multi-file wall time: 1 worker {ours['seconds']:.2f} s, 2 workers {two['seconds']:.2f} s "
          f"(speed-up {ours['seconds'] / two['seconds']:.2f}x on {os.cpu_count()} CPUs); CPU time used "
          f"{ours['cpu_s']:.1f} s vs {two['cpu_s']:.1f} s (CPU/wall {ours['cpu_s'] / ours['seconds']:.2f} vs "
          f"{two['cpu_s'] / two['seconds']:.2f}); load average now {os.getloadavg()[0]:.1f}")
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
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
