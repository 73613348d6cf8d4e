"""LANL repeated authentications collapsed at ingest (``repeats``): the analysis must not change.

The reader keeps the first and last line of each run of identical lines (but for their time) within
one UTC hour and counts the rest in ``repeats``; hops, scores, severities, counts, paths and patient
zero must be those of the uncollapsed read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import analyze_from_events
from graph.config import AnalysisConfig
from graph.correlate import _NON_ACCOUNTS
from ingest import load_events
from ingest.formats.lanl_auth import NON_ACCOUNTS
from ingest.schema import event_count
from ingest.synthetic.auth_enterprise import START, simulate_auth, write_lanl

#: Hop columns compared exactly (evidence lists differ on purpose: one item per collapsed run end).
HOP_KEYS = ["hop_id", "src_host", "dst_host", "account", "first_seen", "last_seen", "n_events", "score",
            "severity", "rules", "auth_packages", "reason"]


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{ln}\n" for ln in lines))
    return path


def _read(path: Path, monkeypatch: pytest.MonkeyPatch, collapse: bool) -> tuple[pd.DataFrame, object]:
    monkeypatch.setenv("LATGRAPH_LANL_COLLAPSE", "1" if collapse else "0")
    return load_events([path], workers=1)


def test_a_run_within_an_hour_becomes_its_first_and_last_line(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run = [f"{t},U7@DOM1,U7@DOM1,C1,C2,Kerberos,Network,LogOn,Success" for t in (10, 20, 20, 30, 3599)]
    other = ["15,U8@DOM1,U8@DOM1,C1,C2,Kerberos,Network,LogOn,Success",
             "3600,U7@DOM1,U7@DOM1,C1,C2,Kerberos,Network,LogOn,Success",      # next hour: a new run
             "3601,C1$@DOM1,C1$@DOM1,C1,C9,NTLM,Network,LogOn,Success",          # machine NTLM: kept
             "3602,C1$@DOM1,C1$@DOM1,C1,C9,NTLM,Network,LogOn,Success",
             "3603,C1$@DOM1,C1$@DOM1,C1,C9,NTLM,Network,LogOn,Success",
             "3604,U5@DOM1,U5@DOM1,C1,C9,?,?,AuthMap,Success",                    # not kept, counted
             "3605,U5@DOM1,U5@DOM1,C1,C9,?,?,AuthMap,Success",
             "not a line"]
    path = _lines(tmp_path / "auth.txt", [*run[:1], other[0], *run[1:], *other[1:]])
    events, report = _read(path, monkeypatch, collapse=True)
    fr = report.files[0]
    assert fr.records_read == 13 and fr.kept == 10 and event_count(events) == 10
    assert fr.skipped["event id not kept"] == 2 and fr.skipped["malformed record"] == 1
    assert fr.event_ids == {"LANL:4624": 10}
    u7 = events[events["account"].eq("u7")]
    assert list(u7["record_id"]) == [1, 6, 7]             # first and last line of the run, then the next hour
    assert list(u7["repeats"]) == [4, 1, 1]
    assert list(u7["ts"].astype("int64") // 10**9) == [10, 3599, 3600]
    machine = events[events["account"].eq("c1$")]
    assert len(machine) == 3 and machine["repeats"].fillna(1).eq(1).all()
    machine = "C2$@DOM1,C2$@DOM1,C2,C9,Kerberos,Network,LogOn,Success"
    machine_kerberos = _lines(tmp_path / "m.txt", [f"{t},{machine}" for t in (1, 2, 3, 4)])
    rows, _ = _read(machine_kerberos, monkeypatch, collapse=True)
    assert list(rows["repeats"]) == [3, 1] and event_count(rows) == 4
    from ingest.writers import write_events
    again = tmp_path / "again" / "auth.txt"
    assert write_events(events, again, "lanl") == 10           # a collapsed run is written out whole
    back, _ = _read(again, monkeypatch, collapse=True)
    cols = ["ts", "host", "src_host", "account", "event_id", "repeats"]
    assert back[cols].reset_index(drop=True).equals(events[cols].reset_index(drop=True))
    plain, plain_report = _read(path, monkeypatch, collapse=False)
    assert len(plain) == 10 and plain["repeats"].isna().all() and plain_report.files[0].kept == 10


def test_the_reader_skips_the_same_accounts_as_the_analysis() -> None:
    assert set(_NON_ACCOUNTS) <= NON_ACCOUNTS


@pytest.mark.parametrize("stealthy", [False, True])
def test_collapsed_read_gives_the_same_analysis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                stealthy: bool) -> None:
    monkeypatch.setenv("LATGRAPH_LANL_EPOCH", START.isoformat())
    sim = simulate_auth(5, n_hosts=120, days=5, stealthy=stealthy, repeat=8.0)
    auth, _ = write_lanl(sim, tmp_path)
    config = AnalysisConfig()
    results = []
    for collapse in (False, True):
        events, report = _read(auth, monkeypatch, collapse)
        results.append((len(events), analyze_from_events(events, report, config)))
    (n_plain, plain), (n_coll, coll) = results
    assert n_coll < n_plain / 2                                     # the collapse did collapse
    assert coll.summary["events"] == plain.summary["events"] == len(sim.rows)
    assert coll.report.kept == plain.report.kept
    a, b = plain.hops, coll.hops
    assert len(a) == len(b) and len(a) > 50
    for col in HOP_KEYS:
        if col in a.columns:
            assert a[col].tolist() == b[col].tolist(), col
    pz = [[(p.host, p.score, p.reason) for p in r.patient_zero] for r in (plain, coll)]
    assert pz[0] == pz[1]
    assert [p.hosts for p in plain.paths] == [p.hosts for p in coll.paths]
    assert plain.patient_zero and plain.patient_zero[0].host == sim.truth.patient_zero
    fa, fb = plain.findings, coll.findings
    assert (len(fa), fa["count"].sum() if len(fa) else 0) == (len(fb), fb["count"].sum() if len(fb) else 0)
    # every collapsed hop keeps its first and last event as evidence
    many = b[b["n_events"] > 2]
    assert len(many) and all(len(ev) <= n for ev, n in zip(many["evidence"], many["n_events"], strict=True))


def test_ingest_says_rows_and_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from app.cli import cli
    from ingest.case import read_case

    monkeypatch.delenv("LATGRAPH_LANL_COLLAPSE", raising=False)
    line = "U1@D,U1@D,C1,C2,Kerberos,Network,LogOn,Success"
    path = _lines(tmp_path / "auth.txt", [f"{t},{line}" for t in (1, 2, 3)])
    for stream in ([], ["--stream"]):
        out = tmp_path / f"case{len(stream)}.parquet"
        res = CliRunner().invoke(cli, ["ingest", str(path), "-o", str(out), *stream])
        assert res.exit_code == 0, res.output
        assert "wrote 2 rows for 3 events" in res.output
        assert event_count(read_case(out)) == 3
