"""Shared fixtures: the real data sets in ../shared/datasets (skipped with a reason when absent)
and a small factory for canonical events."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ingest.schema import Event, to_frame

REPO = Path(__file__).resolve().parents[1]
#: The shared real data sets; override with LATGRAPH_DATASETS.
DATASETS = Path(os.environ.get("LATGRAPH_DATASETS", REPO.parent / "shared" / "datasets"))
LABELS_PATH = DATASETS / "LABELS.json"


def datasets_or_skip() -> Path:
    """The data-set folder, or skip the test with a clear reason."""
    if not LABELS_PATH.is_file():
        pytest.skip(f"real data sets not found at {DATASETS} (set LATGRAPH_DATASETS); CI has them")
    return DATASETS


def load_labels() -> list[dict[str, Any]]:
    """The per-file entries of LABELS.json ([] when the data sets are absent)."""
    if not LABELS_PATH.is_file():
        return []
    return json.loads(LABELS_PATH.read_text())["files"]


@pytest.fixture
def datasets() -> Path:
    """Path to ../shared/datasets, or skip."""
    return datasets_or_skip()


T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)


def make_event(**fields: Any) -> Event:
    """An Event with sensible defaults (a 4624 type-3 logon on PC01 at T0); override any field."""
    base: dict[str, Any] = {"ts": T0, "event_id": 4624, "channel": "Security", "host": "PC01",
                            "source_file": "test", "source_format": "test"}
    base.update(fields)
    return Event(**base)


def events_frame(*events: Event) -> pd.DataFrame:
    """A canonical frame from events."""
    return to_frame(events)
