"""The issue #14 battery, seeded (``tests/robustness/battery.py``): a few seeds per case in
``make test``; ``LATGRAPH_ROBUSTNESS_SEEDS=300`` (or ``bench/fuzz.py``) for a longer run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import datasets_or_skip
from tests.robustness.battery import CASES

SEEDS = int(os.environ.get("LATGRAPH_ROBUSTNESS_SEEDS", "6"))


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_battery(case: str, seed: int, tmp_path: Path) -> None:
    datasets = datasets_or_skip() if case == "evtx" else Path()
    CASES[case](seed, tmp_path, datasets)
