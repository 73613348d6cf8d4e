"""What the sections of ``bench/evaluate.py`` share: the repository on ``sys.path`` (import this
module before ``graph`` / ``ingest``), the data sets' folder, the medium+ severities, one analysis
run and the optional-cell formatter.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from graph.config import AnalysisConfig  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
MEDIUM_PLUS = {"high", "medium"}


def analyze_case(path: Path, config: AnalysisConfig) -> Any:
    """``latgraph analyze PATH`` without the printing: the AnalysisResult."""
    from app.pipeline import run

    return run([path], config=config)


def _opt(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
