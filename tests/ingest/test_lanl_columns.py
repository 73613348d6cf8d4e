"""The vectorised LANL reader (``ingest.formats.lanl_columns``) against the line reader.

Both must give the same canonical frames (rows, values, record ids, ``repeats``, order, batch by
batch) and the same report (read, kept, skipped by reason, problems in order) on generated
``auth.txt`` with every edge case: repeated lines within and across hours, unsorted time, machine,
system and unknown accounts over NTLM, unknown computers, lines not kept, malformed lines (fields,
time, orientation, no comma), blank lines, CRLF, a lone CR, non-ASCII bytes, invalid UTF-8, a last
line without newline, ``.gz``, ``event_ids``, ``LATGRAPH_LANL_COLLAPSE=0`` and the ``MAX_RUNS``
flush, with blocks small enough that windows span several of them.
"""

from __future__ import annotations

import dataclasses
import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest import formats, iter_event_batches
from ingest.formats import lanl_auth, lanl_blocks, lanl_columns
from ingest.report import IngestReport
from ingest.stream_case import ingest_to_case

USERS = ["U1@DOM1", "U2@DOM1", "U3@DOM2", "C3$@DOM1", "SYSTEM@NT AUTHORITY", "ANONYMOUS LOGON@C5",
         "?", "U9", "LOCAL SERVICE@NT AUTHORITY", " u1@DOM1", "C7$"]
COMPUTERS = ["C1", "C2", "C3", "C7", "?", "", "c2.corp.example", "TGT"]
KINDS = [("Kerberos", "Network", "LogOn", "Success"), ("NTLM", "Network", "LogOn", "Success"),
         ("Negotiate", "Interactive", "LogOn", "Fail"), ("Kerberos", "?", "TGS", "Success"),
         ("Kerberos", "?", "TGT", "Failure"), ("?", "?", "AuthMap", "Success"),
         ("Kerberos", "Network", "LogOff", "Success"), ("NTLM", "Network", "LOGON", "SUCCESS"),
         (" ntlm ", "Network", "LogOn", "Success")]
BROKEN = ["not a line", "12345", "77,a,b", "x1,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success",
          "{t},U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,Elsewhere,Success",
          "{t},U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success,extra",
          "-5,U1,U1,C1,C2,a,b,LogOn,Success",
          "{t},,,,,,,,"]


def _auth_text(seed: int, n: int) -> str:
    """``n`` generated lines: a few dozen distinct authentications repeated, time mostly rising by
    seconds to minutes, sometimes going back an hour or more; malformed, blank and CRLF lines."""
    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(40):
        kind = KINDS[rng.integers(len(KINDS))]
        users = [USERS[i] for i in rng.integers(len(USERS), size=2)]
        computers = [COMPUTERS[i] for i in rng.integers(len(COMPUTERS), size=2)]
        pool.append(",".join([*users, *computers, *kind]))
    t, out = 0, []
    for _ in range(n):
        r = rng.random()
        if r < 0.02:
            t = max(t - int(rng.integers(1000, 9000)), 0)   # unsorted: back an hour or two
        elif r < 0.05:
            t += int(rng.integers(3600, 9000))
        else:
            t += int(rng.integers(0, 40))
        r = rng.random()
        if r < 0.03:
            out.append(BROKEN[rng.integers(len(BROKEN))].format(t=t) + "\n")
        elif r < 0.04:
            out.append("\n" if rng.random() < 0.5 else "\r\n")
        else:
            end = "\r\n" if rng.random() < 0.1 else "\n"
            out.append(f"{t},{pool[rng.integers(len(pool))]}{end}")
    return "".join(out)


def _batches(path: Path, **kw: object) -> tuple[list[pd.DataFrame], IngestReport]:
    report = IngestReport()
    return list(iter_event_batches([path], report=report, **kw)), report


def _same(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: object) -> IngestReport:
    """Read ``path`` with both readers (batches of 97 rows) and assert the same frames and report."""
    new, new_report = _batches(path, batch_size=97, **kw)
    with monkeypatch.context() as m:
        m.setitem(formats.FORMATS, "lanl",
                  dataclasses.replace(lanl_auth.FORMAT, iter_records=lanl_auth.iter_records_lines))
        old, old_report = _batches(path, batch_size=97, **kw)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        pd.testing.assert_frame_equal(a, b)
        assert repr(a["ts"].dtype.tz) == repr(b["ts"].dtype.tz)
    assert new_report.to_dict() == old_report.to_dict()
    for fa, fb in zip(new_report.files, old_report.files, strict=True):
        assert _fields(fa) == _fields(fb)
    return new_report


def _fields(fr: object) -> dict[str, object]:
    """A file report's fields; counters as sorted items (no 0 entries either), times with their zone."""
    return {k: sorted(v.items()) if isinstance(v, Counter) else (v, repr(v)) for k, v in vars(fr).items()}


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 2 KB and column parts of 50 rows: windows span blocks, batches span parts."""
    monkeypatch.setattr(lanl_blocks, "BLOCK_BYTES", 2048)
    monkeypatch.setattr(lanl_columns, "PART_ROWS", 50)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_rows_and_report_as_the_line_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 small_blocks: None, seed: int) -> None:
    path = tmp_path / "auth.txt"
    path.write_text(_auth_text(seed, 3000), newline="")
    report = _same(path, monkeypatch)
    fr = report.files[0]
    assert fr.skipped["malformed record"] > 10 and fr.skipped["event id not kept"] > 10
    assert fr.kept > 0 and fr.records_read < 3000   # blank lines are not records


def test_edge_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_blocks: None) -> None:
    """A lone CR (a line end for the line reader), non-ASCII and invalid UTF-8 (the per-line split),
    a BOM, and a last line without newline."""
    text = _auth_text(4, 800).encode()
    lines = text.split(b"\n")
    lines[100] = lines[100] + b"\r" + b"5000,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success"
    lines[300] = "6000,Ülrich@DOM1,Ülrich@DOM1,C1,C2,Kerberos,Network,LogOn,Success".encode()
    lines[301] = b"6001,U\xff@DOM1,U\xff@DOM1,C1,C2,Kerberos,Network,LogOn,Success"
    lines[500] = "٣٣٣,U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success".encode()   # Arabic-Indic digits
    path = tmp_path / "auth.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines).rstrip(b"\n"))
    report = _same(path, monkeypatch)
    assert report.files[0].kept > 0


def test_gz_event_ids_and_no_collapse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      small_blocks: None) -> None:
    path = tmp_path / "auth.txt.gz"
    with gzip.open(path, "wt", newline="") as fh:
        fh.write(_auth_text(5, 2000))
    _same(path, monkeypatch)
    _same(path, monkeypatch, event_ids=[4624, 4769])
    monkeypatch.setenv("LATGRAPH_LANL_COLLAPSE", "0")
    _same(path, monkeypatch)


def test_max_runs_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_blocks: None) -> None:
    """The line reader writes a window out early when it holds MAX_RUNS distinct lines."""
    path = tmp_path / "auth.txt"
    path.write_text(_auth_text(6, 3000), newline="")
    for max_runs in (1, 3, 7):
        monkeypatch.setattr(lanl_auth, "MAX_RUNS", max_runs)
        _same(path, monkeypatch)


def test_same_case_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_blocks: None) -> None:
    """``ingest_to_case`` (``latgraph ingest --stream``) writes the same case with either reader."""
    path = tmp_path / "auth.txt"
    path.write_text(_auth_text(7, 3000), newline="")
    rows_new, _ = ingest_to_case(path, tmp_path / "new.parquet", batch_size=500)
    monkeypatch.setitem(formats.FORMATS, "lanl",
                        dataclasses.replace(lanl_auth.FORMAT, iter_records=lanl_auth.iter_records_lines))
    rows_old, _ = ingest_to_case(path, tmp_path / "old.parquet", batch_size=500)
    assert rows_new == rows_old > 0
    new, old = pd.read_parquet(tmp_path / "new.parquet"), pd.read_parquet(tmp_path / "old.parquet")
    pd.testing.assert_frame_equal(new, old)


@pytest.mark.parametrize("non_ascii", [False, True])
def test_a_time_past_the_year_9999_is_one_malformed_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         small_blocks: None, non_ascii: bool) -> None:
    """An all-digit time no date can hold (past 9999-12-31, more than 15 digits, 40 digits) is
    one malformed line named by its number, in both readers (the fast block split and, with a
    non-ASCII line in its block, the per-line one); the lines around it are read as usual."""
    last = lanl_auth.last_second(lanl_auth.epoch())
    lines = _auth_text(5, 600).split("\n")
    bad = {120: str(last + 1), 300: "9" * 16, 301: "9" * 40}
    for i, t in bad.items():
        lines[i] = f"{t},U1@DOM1,U1@DOM1,C1,C2,Kerberos,Network,LogOn,Success"
    if non_ascii:
        for i in (119, 299):
            lines[i] = "7000,Ülrich@DOM1,Ülrich@DOM1,C1,C2,Kerberos,Network,LogOn,Success"
    path = tmp_path / "auth.txt"
    path.write_text("\n".join(lines), newline="")
    report = _same(path, monkeypatch)
    fr = report.files[0]
    assert fr.kept > 0
    named = [p for p in map(str, fr.problems) if lanl_auth.OUT_OF_RANGE in p]
    numbers = sorted(i + 1 for i in bad)
    assert [int(p.split("line ")[1].split(":")[0]) for p in named] == numbers
