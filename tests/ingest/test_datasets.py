"""Every real data set ingests, and its kept event-id counts match LABELS.json ground truth."""

from __future__ import annotations

import pandas as pd
import pytest

from ingest import load_events
from ingest import winevents as we
from ingest.formats import FORMATS
from tests.conftest import DATASETS, datasets_or_skip, load_labels

EVENT_FILES = [f for f in load_labels() if not f["format"].startswith("lanl")]


def expected_counts(label_counts: dict[str, int]) -> dict[str, int]:
    """LABELS ``Channel:EventID`` counts restricted to what latgraph keeps, in canonical channel names."""
    out: dict[str, int] = {}
    for key, n in label_counts.items():
        channel, _, eid = key.rpartition(":")
        if channel.startswith("MDE:"):
            mde_id = we.MDE_ACTION_IDS.get(eid)
            if mde_id is not None and mde_id in we.KEPT_EVENT_IDS:
                out[f"MDE:{mde_id}"] = out.get(f"MDE:{mde_id}", 0) + n
            continue
        canonical = we.CHANNELS.get(channel.lower())
        if not eid.isdigit() or canonical is None:
            continue
        if int(eid) in we.KEPT_EVENT_IDS and canonical in we.EVENT_CHANNELS[int(eid)]:
            out[f"{canonical}:{eid}"] = out.get(f"{canonical}:{eid}", 0) + n
    return out


@pytest.mark.samples
@pytest.mark.parametrize("entry", EVENT_FILES, ids=[f["path"] for f in EVENT_FILES])
def test_event_id_counts_match_labels(entry: dict) -> None:
    root = datasets_or_skip()
    if "Defender" in entry["format"] and "mde" not in FORMATS:
        pytest.skip("Defender reader not registered yet")
    events, report = load_events([root / entry["path"]], workers=1, resolve=False)
    assert report.failed_files == [], report.format_text()
    assert report.problem_count == 0, report.format_text()
    assert report.records_read == entry["ground_truth"]["record_count"]
    actual: dict[str, int] = {}
    for fr in report.files:
        for key, n in fr.event_ids.items():
            actual[key] = actual.get(key, 0) + n
    assert actual == expected_counts(entry["ground_truth"]["event_id_counts"])
    assert len(events) == sum(actual.values())


@pytest.mark.samples
def test_whole_dataset_folder_in_one_multiprocess_run() -> None:
    root = datasets_or_skip()
    paths = [root / f["path"] for f in EVENT_FILES if "Defender" not in f["format"] or "mde" in FORMATS]
    events, report = load_events(paths, workers=2)
    assert len(events) == sum(sum(expected_counts(f["ground_truth"]["event_id_counts"]).values())
                              for f in EVENT_FILES)
    assert report.problem_count == 0, report.format_text()
    assert events["ts"].is_monotonic_increasing
    assert report.files[0].path.startswith(str(DATASETS))


@pytest.mark.samples
def test_default_workers_stay_in_process_for_small_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """workers=None: a pool only for inputs of PARALLEL_MIN_BYTES or more; same events either way."""
    import ingest

    root = datasets_or_skip()
    paths = [root / f["path"] for f in EVENT_FILES if str(f["path"]).endswith(".evtx")]
    pooled, _ = load_events(paths, workers=2, resolve=False)

    class NoPool:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a process pool was started for a small input")

    monkeypatch.setattr(ingest, "ProcessPoolExecutor", NoPool)
    small, _ = load_events(paths, resolve=False)          # a few MB: in-process
    pd.testing.assert_frame_equal(small, pooled)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_EVTX_BYTES", 0)
    with pytest.raises(AssertionError, match="process pool"):
        load_events(paths, resolve=False)                 # large enough now: the pool is used
    # with the Rust EVTX reader, .evtx bytes are held against their own (larger) threshold
    size = sum(p.stat().st_size for p in paths)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", size // 2)
    monkeypatch.setattr(ingest, "PARALLEL_MIN_EVTX_BYTES", size + 1)
    monkeypatch.setattr(ingest, "native_available", lambda: True)
    load_events(paths, resolve=False)                     # below the EVTX threshold: in-process
    monkeypatch.setattr(ingest, "native_available", lambda: False)
    with pytest.raises(AssertionError, match="process pool"):
        load_events(paths, resolve=False)                 # the general threshold: the pool
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", size + 1)
    monkeypatch.setattr(ingest, "ProcessPoolExecutor", NoPool)
    with pytest.raises(AssertionError, match="process pool"):
        load_events(paths, workers=2, resolve=False)      # --workers is always honoured
