"""The issue #14 robustness battery, longer: many seeds of every case, outcomes counted.

    .venv/bin/python bench/fuzz.py --seeds 300            # every case, seeds 0..299
    .venv/bin/python bench/fuzz.py --case evtx --seeds 1000 --start 5000

Prints one line per case: seeds run, outcomes by kind, and failures (an invariant broken: a record
lost or altered without a problem, an unbalanced report, a raw control character printed, a
timestamp batch lost, a DTD accepted). Exit status 1 when anything failed. The same cases run with a
few seeds in ``make test`` (``tests/robustness/test_battery.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import DATASETS  # noqa: E402
from tests.robustness.battery import CASES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    args = parser.parse_args()
    failed = 0
    for name in args.case or sorted(CASES):
        outcomes: Counter[str] = Counter()
        failures: list[str] = []
        started = time.perf_counter()
        for seed in range(args.start, args.start + args.seeds):
            with tempfile.TemporaryDirectory(prefix="latgraph-fuzz-") as work:
                try:
                    outcomes[CASES[name](seed, Path(work), DATASETS)] += 1
                except AssertionError as exc:
                    failures.append(f"seed {seed}: {exc}")
        failed += len(failures)
        print(f"{name}: {args.seeds} seeds in {time.perf_counter() - started:.1f} s, "
              f"{len(failures)} failure(s); " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        for line in failures[:20]:
            print(f"  FAIL {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
