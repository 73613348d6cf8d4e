"""What the EVTX integrity check (ingest/formats/evtx_check.py) costs: the check alone, and EVTX
ingest with and without it (A/B, alternating runs, CPU time, one process).

    .venv/bin/python bench/evtx_check.py                 # the 20 data-set EVTX files x 20, 7 runs each

Prints the check's CPU time per file and per record, then the median and minimum ingest CPU time
with and without the check and the overhead, and which EVTX path (Rust reader or pure Python) ran.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest import load_events  # noqa: E402
from ingest.formats import evtx_check, evtx_file  # noqa: E402
from tests.conftest import DATASETS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    src = sorted(DATASETS.rglob("*.evtx"))
    work = Path(tempfile.mkdtemp(prefix="latgraph-bench-check-"))
    try:
        files = []
        for k in range(args.copies):
            for f in src:
                files.append(str(shutil.copy(f, work / f"{k}-{f.name}")))
        crc = evtx_check.default_crc()
        t = time.process_time()
        for f in files:
            evtx_check.check_file(f, f, crc)
        check_s = time.process_time() - t
        real = evtx_file._verified_path
        runs: dict[str, list[float]] = {"with check": [], "without": []}
        records = 0
        for _ in range(args.repeat):
            for mode in runs:
                evtx_file._verified_path = real if mode == "with check" else (lambda *_a: None)
                t = time.process_time()
                _, report = load_events(files, workers=1, resolve=False)
                runs[mode].append(time.process_time() - t)
                records = report.records_read
        evtx_file._verified_path = real
    finally:
        shutil.rmtree(work)
    path = "Rust reader" if evtx_file.native_available() else "pure Python"
    print(f"{len(files)} files, {records:,} records, {path}, crc32 = {crc.__module__}.{crc.__name__}")
    print(f"check alone: {check_s:.3f} CPU-s ({check_s / len(files) * 1e3:.2f} ms per file, "
          f"{check_s / records * 1e6:.2f} us per record)")
    med = {k: sorted(v)[len(v) // 2] for k, v in runs.items()}
    low = {k: min(v) for k, v in runs.items()}
    for name in runs:
        print(f"ingest {name}: median {med[name]:.3f} CPU-s, min {low[name]:.3f}")
    print(f"overhead: median {100 * (med['with check'] / med['without'] - 1):+.1f}%, "
          f"min {100 * (low['with check'] / low['without'] - 1):+.1f}%")


if __name__ == "__main__":
    main()
