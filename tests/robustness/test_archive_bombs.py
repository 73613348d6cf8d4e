"""Issue #14 item 11: a .zip member or .gz that expands beyond the limits (size, or ratio to its
compressed size) is refused with a message naming it and the way out (--max-expanded / --max-ratio,
their environment variables, --stream); every real data set passes the defaults."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest import load_events
from ingest.formats import base
from tests.conftest import datasets_or_skip

LINE = json.dumps({"@timestamp": "2024-03-01T10:00:00Z", "winlog": {
    "channel": "Security", "event_id": 4624, "computer_name": "PC01", "record_id": 1,
    "event_data": {"TargetUserName": "alice", "LogonType": "3", "IpAddress": "10.0.0.9"}}})
PAD = 40 << 20   # 40 MB of newlines: compresses about 1000:1


@pytest.fixture
def bombs(tmp_path: Path) -> dict[str, Path]:
    content = (LINE + "\n").encode() * 10 + b"\n" * PAD
    out = {"zip": tmp_path / "bomb.zip", "gz": tmp_path / "bomb.ndjson.gz"}
    with zipfile.ZipFile(out["zip"], "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner/events.ndjson", content)
    out["gz"].write_bytes(gzip.compress(content, 6))
    return out


@pytest.mark.parametrize("kind", ["zip", "gz"])
def test_a_high_ratio_member_is_refused_naming_it(bombs: dict[str, Path], kind: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip member is judged by the size its header declares (zipfile never reads past it), before
    anything is read; a .gz (no trustworthy size) as it is read, keeping what came before the limit."""
    monkeypatch.setattr(base, "RATIO_FLOOR", 1 << 20)      # the bomb is small so the test is fast
    events, report = load_events([bombs[kind]], workers=1)
    fr = report.files[0]
    assert fr.path == (f"{bombs['zip']}!inner/events.ndjson" if kind == "zip" else str(bombs["gz"]))
    what = "declares" if kind == "zip" else "expands to"
    assert fr.error and f"{what} more than 100 times its compressed size" in fr.error
    assert "--max-ratio" in fr.error and "LATGRAPH_MAX_RATIO" in fr.error and "--stream" in fr.error
    assert len(events) == (0 if kind == "zip" else 10)
    monkeypatch.setenv(base.ENV_MAX_RATIO, "0")           # the analyst vouches for it: no ratio limit
    events, report = load_events([bombs[kind]], workers=1)
    assert report.files[0].error is None and len(events) == 10


def test_the_cli_option_and_the_size_limit(bombs: dict[str, Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(base.ENV_MAX_EXPANDED, "")   # the command sets it; restored after the test
    out = str(tmp_path / "c.parquet")
    result = CliRunner().invoke(cli, ["ingest", str(bombs["zip"]), "-o", out, "--max-expanded", "4M"])
    assert result.exit_code == 1, result.output            # refused before reading: nothing ingested
    member = f"{bombs['zip']}!inner/events.ndjson"
    assert f"ERROR {member}: declares more than --max-expanded 4 MB" in result.output
    result = CliRunner().invoke(cli, ["ingest", str(bombs["gz"]), "-o", out, "--max-expanded", "4M"])
    assert result.exit_code == 3, result.output            # the events before the limit are ingested
    assert f"ERROR {bombs['gz']}: expands to more than --max-expanded 4 MB" in result.output
    result = CliRunner().invoke(cli, ["ingest", str(bombs["zip"]), "-o", out, "--max-expanded", "lots"])
    assert result.exit_code == 2 and "not a size" in result.output


def test_every_real_archive_passes_the_default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "RATIO_FLOOR", 0)           # judge even the small ones by their ratio
    root = datasets_or_skip()
    archives = sorted([*root.rglob("*.zip"), *root.rglob("*.gz")])
    assert archives
    _, report = load_events(archives, workers=1)
    assert [f.error for f in report.files if f.error] == []
