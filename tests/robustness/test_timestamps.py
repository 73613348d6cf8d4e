"""Issue #14 item 3: crafted timestamps drop only their own records, never the batch around them.

A fraction with more than 9 digits and the integer ``-1`` in one batch made pandas' mixed-format
parse raise for the whole batch, so every record of it (50,000 at full size) was lost as a file
error. Now each unreadable value drops only its record, counted as "no timestamp" with file and record.
"""

from __future__ import annotations

import json
from pathlib import Path

from ingest import load_events
from ingest.report import SKIP_NO_TIME

N = 3000


def _winlogbeat_line(i: int, ts: object) -> str:
    return json.dumps({"@timestamp": ts, "winlog": {
        "channel": "Security", "event_id": 4624, "computer_name": f"PC{i % 7}.corp.local", "record_id": i,
        "event_data": {"TargetUserName": "alice", "LogonType": "3", "IpAddress": "10.0.0.9",
                       "WorkstationName": "WS9"}}})


def test_two_crafted_timestamps_drop_two_records_not_the_batch(tmp_path: Path) -> None:
    lines = [_winlogbeat_line(i, f"2024-03-01T10:{i % 60:02d}:00.{i:06d}Z") for i in range(N)]
    lines[100] = _winlogbeat_line(100, "2024-03-01T10:00:00.1234567891234Z")   # 13 fraction digits
    lines[200] = _winlogbeat_line(200, -1)                                     # an integer
    lines[300] = _winlogbeat_line(300, "-1")
    lines[400] = _winlogbeat_line(400, "99999-01-01T00:00:00Z")               # beyond datetime64[ns]
    path = tmp_path / "crafted.ndjson"
    path.write_text("\n".join(lines) + "\n")
    for batch_size in (50_000, 700):
        events, report = load_events([path], workers=1, batch_size=batch_size)
        fr = report.files[0]
        assert fr.error is None
        assert fr.skipped[SKIP_NO_TIME] == 3
        assert len(events) == N - 3 == fr.kept
        for rid in (200, 300, 400):
            assert f"{path}, record {rid}: {SKIP_NO_TIME}" in fr.problems
        assert 100 in set(events["record_id"])            # long fraction: read (to nanoseconds)
