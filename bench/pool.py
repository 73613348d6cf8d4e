"""Ingest process pool: 1 vs 2 workers at several input sizes, the figures behind ``PARALLEL_MIN_BYTES``.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python bench/pool.py                          # 25, 50, 100, 200, 400 MB, 3 repeats
    nice -n 10 .venv/bin/python bench/pool.py --sizes 50,100 --repeat 5

Inputs: the real EVTX files of the data sets (``LATGRAPH_DATASETS`` or ``../shared/datasets``)
copied into a temporary folder until each size is reached (the simulator writes no EVTX; copies
of real logs are what an analyst's collection looks like: many files of a few hundred KB to
a few MB). The native reader (``latgraph_evtx``) must be installed: the threshold is for it.

Each measurement is ``load_events(files, workers=w, resolve=False)`` in a fresh child process
(imports done before the clock starts), 1 and 2 workers alternating, ``--repeat`` times. Printed
per size: median wall seconds for 1 and 2 workers and their ratio (the speed-up of the pool), the
CPU seconds of each (the pool's overhead: starting workers, pickling frames back), and an idle
estimate of the 2-worker wall time from CPU time alone (parent CPU + worker CPU / 2: what two free
cores would give), which does not depend on how busy the machine was; and the 1-minute load
average around each size. Figures only, no asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("LATGRAPH_DATASETS", REPO.parent / "shared" / "datasets"))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
import ingest, ingest.case, ingest.formats, ingest.records, ingest.resolve
from ingest.formats.evtx_file import native_available
files = json.load(open({files!r}))
def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime
t0, p0, c0 = time.perf_counter(), cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
events, report = ingest.load_events(files, workers={workers}, resolve=False)
print(json.dumps({{"wall": time.perf_counter() - t0, "parent_cpu": cpu(resource.RUSAGE_SELF) - p0,
                  "child_cpu": cpu(resource.RUSAGE_CHILDREN) - c0, "events": len(events),
                  "native": native_available()}}))
"""


def build(work: Path, mb: float, sources: list[Path]) -> Path:
    """A JSON list of EVTX copies totalling at least ``mb`` MB."""
    folder = work / f"{mb:g}MB"
    folder.mkdir()
    files: list[str] = []
    total, i = 0, 0
    while total < mb * 1e6:
        src = sources[i % len(sources)]
        dst = folder / f"{i // len(sources):04d}_{src.name}"
        shutil.copy(src, dst)
        files.append(str(dst))
        total += dst.stat().st_size
        i += 1
    listing = work / f"{mb:g}MB.json"
    listing.write_text(json.dumps(files))
    return listing


def run(listing: Path, workers: int) -> dict[str, float]:
    """One measurement in a fresh child process."""
    code = CHILD.format(repo=str(REPO), files=str(listing), workers=workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25,50,100,200,400", help="input sizes in MB (comma-separated)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size and worker count (medians)")
    args = ap.parse_args()
    sources = sorted(DATASETS.rglob("*.evtx"))
    if not sources:
        sys.exit(f"no EVTX files under {DATASETS} (set LATGRAPH_DATASETS)")
    sizes = [float(s) for s in args.sizes.split(",")]
    print(f"{len(sources)} real EVTX files ({sum(p.stat().st_size for p in sources) / 1e6:.1f} MB) copied "
          f"to each size; {args.repeat} runs per cell; cores: {os.cpu_count()}")
    print(f"{'MB':>5} {'files':>6} {'events':>9} | {'1 worker s':>10} {'2 workers s':>11} {'ratio':>6} | "
          f"{'CPU 1':>6} {'CPU 2':>6} | {'idle est. 2w s':>14} {'est. ratio':>10} | load before-after")
    with tempfile.TemporaryDirectory(prefix="latgraph-bench-pool-") as tmp:
        for mb in sizes:
            listing = build(Path(tmp), mb, sources)
            n_files = len(json.loads(listing.read_text()))
            load0 = os.getloadavg()[0]
            one: list[dict[str, float]] = []
            two: list[dict[str, float]] = []
            for _ in range(args.repeat):
                one.append(run(listing, 1))
                two.append(run(listing, 2))
            if not one[0]["native"]:
                sys.exit("the native EVTX reader (latgraph_evtx) is not installed: the figures would not "
                         "be those of the threshold (make evtx-native)")
            load1 = os.getloadavg()[0]
            w1 = statistics.median(r["wall"] for r in one)
            w2 = statistics.median(r["wall"] for r in two)
            c1 = statistics.median(r["parent_cpu"] + r["child_cpu"] for r in one)
            c2 = statistics.median(r["parent_cpu"] + r["child_cpu"] for r in two)
            est = statistics.median(r["parent_cpu"] + r["child_cpu"] / 2 for r in two)
            print(f"{mb:>5g} {n_files:>6} {int(one[0]['events']):>9,} | "
                  f"{w1:>10.2f} {w2:>11.2f} {w1 / w2:>6.2f} | {c1:>6.2f} {c2:>6.2f} | "
                  f"{est:>14.2f} {c1 / est:>10.2f} | {load0:.1f}-{load1:.1f}",
                  flush=True)
            shutil.rmtree(Path(tmp) / f"{mb:g}MB")


if __name__ == "__main__":
    main()
