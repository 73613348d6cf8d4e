"""Records of many files are normalised in shared batches: provenance and per-file counts stay exact."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest import iter_event_batches, load_events
from ingest.batching import RecordBatcher
from ingest.errors import IngestError
from ingest.records import Segment, normalize_batch
from ingest.report import FileReport, IngestReport
from tests.conftest import datasets_or_skip

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"
KEY = ["source_file", "record_id", "event_id"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(KEY, kind="stable").reset_index(drop=True)
    return out.assign(channel=out["channel"].astype(str), source_format=out["source_format"].astype(str))


def _per_file(report: IngestReport) -> dict[str, dict]:
    return {f.path: f.to_dict() for f in report.files}


@pytest.fixture(scope="module")
def one_by_one() -> tuple[list[Path], pd.DataFrame, dict[str, dict]]:
    """The EVTX data sets and the format fixtures, each file loaded in a run of its own."""
    root = datasets_or_skip()
    files = sorted(root.rglob("*.evtx")) + sorted(FIXTURES.glob("psexec.*"))
    runs = [load_events([f], workers=1, resolve=False) for f in files]
    frame = _sorted(pd.concat([e for e, _ in runs], ignore_index=True))
    return files, frame, {k: v for _, r in runs for k, v in _per_file(r).items()}


@pytest.mark.parametrize("batch_size", [333, 50_000])
def test_cross_file_batches_equal_one_file_at_a_time(batch_size: int, one_by_one) -> None:
    files, expected, expected_reports = one_by_one
    events, report = load_events(files, workers=1, resolve=False, batch_size=batch_size)
    pd.testing.assert_frame_equal(_sorted(events), expected)
    assert _per_file(report) == expected_reports
    for fr in report.files:     # every record read is kept or counted under a reason
        assert fr.records_read == fr.kept + sum(fr.skipped.values()), fr.path


def test_streamed_batches_mix_files_and_keep_their_rows_apart() -> None:
    root = datasets_or_skip()
    files = sorted(root.rglob("*.evtx"))
    report = IngestReport()
    batches = list(iter_event_batches(files, report=report, batch_size=5_000))
    assert any(b["source_file"].nunique() > 1 for b in batches)       # small files share batches
    assert all(len(b) <= 5_000 for b in batches)
    events = pd.concat(batches, ignore_index=True)
    kept = events.groupby("source_file").size().to_dict()
    assert kept == {f.path: f.kept for f in report.files if f.kept}


def _rec(eid: object, ts: object, rid: int) -> dict[str, object]:
    return {"EventID": eid, "Channel": "Security", "Computer": "srv01", "TimeCreated": ts,
            "EventRecordID": rid, "TargetUserName": "alice", "LogonType": "3"}


def test_skips_and_problems_go_to_the_file_they_came_from() -> None:
    a, b = FileReport("a.evtx"), FileReport("b.evtx")
    good = "2024-03-01T09:00:00Z"
    recs = [_rec(4624, good, 1), _rec(4624, None, 2), _rec(9999, good, 3),          # a
            _rec("x", good, 10), _rec(4624, good, 11), _rec(4624, good, 12)]       # b
    frame, seg = normalize_batch(recs, [Segment(3, "a.evtx", "evtx", a), Segment(3, "b.evtx", "xml", b)])
    assert list(frame["source_file"]) == ["a.evtx", "b.evtx", "b.evtx"]
    assert list(frame["source_format"].astype(str)) == ["evtx", "xml", "xml"]
    assert list(frame["record_id"]) == [1, 11, 12] and list(seg) == [0, 1, 1]
    assert dict(a.skipped) == {"no timestamp": 1, "event id not kept": 1}
    assert dict(b.skipped) == {"no event id": 1}
    assert a.problems == ["a.evtx, record 2: no timestamp"]
    assert b.problems == ["b.evtx, record 10: no event id"]
    with pytest.raises(ValueError, match="segments cover"):
        normalize_batch(recs, [Segment(2, "a.evtx", "evtx", a)])


def test_batcher_splits_a_file_across_batches_and_counts_it_once() -> None:
    reports = [FileReport(f"f{i}") for i in range(3)]
    batcher = RecordBatcher(batch_size=4, event_ids=None)
    frames = []
    for i, fr in enumerate(reports):
        recs = [_rec(4624, f"2024-03-0{i + 1}T09:00:0{j}Z", j) for j in range(3)]
        frames.extend(batcher.add(iter(recs), source_file=fr.path, source_format="evtx", report=fr))
    frames.extend(batcher.flush())
    assert [len(f) for f in frames] == [4, 4, 1]
    for i, fr in enumerate(reports):
        assert fr.kept == 3 and fr.event_ids == {"Security:4624": 3} and fr.hosts == {"SRV01": 3}
        assert (fr.first_ts.day, fr.last_ts.day, fr.last_ts.second) == (i + 1, i + 1, 2)


def test_records_read_before_a_reader_error_are_kept_and_the_error_propagates() -> None:
    fr = FileReport("f")
    batcher = RecordBatcher(batch_size=100, event_ids=None)

    def broken():
        yield _rec(4624, "2024-03-01T09:00:00Z", 1)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        list(batcher.add(broken(), source_file="f", source_format="evtx", report=fr))
    frames = list(batcher.flush())
    assert len(frames) == 1 and list(frames[0]["record_id"]) == [1] and fr.kept == 1


def test_a_record_that_breaks_normalisation_fails_only_its_own_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import records

    def explode(value: object) -> str | None:
        if value == "BOOM":
            raise RuntimeError("normaliser bug")
        return records.normalize_share(value)

    monkeypatch.setitem(records._COLUMN_NORMALISERS, "share_name", explode)
    share = {"EventID": 5140, "Channel": "Security", "Computer": "srv01",
             "TimeCreated": "2024-03-01T09:00:00Z", "SubjectUserName": "bob"}
    good, bad, later = FileReport("good"), FileReport("bad"), FileReport("later")
    batcher = RecordBatcher(batch_size=100, event_ids=None)
    frames = []
    for fr, name in ((good, "C$"), (bad, "BOOM"), (later, "ADMIN$")):
        recs = [{**share, "EventRecordID": i, "ShareName": name} for i in range(3)]
        frames.extend(batcher.add(recs, source_file=fr.path, source_format="evtx", report=fr))
    frames.extend(batcher.flush())
    assert (good.kept, bad.kept, later.kept) == (3, 0, 3)
    assert bad.error == "RuntimeError: normaliser bug" and good.error is None and later.error is None
    assert sorted(pd.concat(frames)["source_file"].unique()) == ["good", "later"]
    strict = RecordBatcher(batch_size=100, event_ids=None, strict=True)
    list(strict.add([{**share, "EventRecordID": 1, "ShareName": "BOOM"}], source_file="bad2",
                    source_format="evtx", report=FileReport("bad2")))
    with pytest.raises(IngestError, match="normaliser bug"):
        list(strict.flush())
