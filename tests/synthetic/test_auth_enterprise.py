"""The authentication-only generator: LANL auth.txt + redteam.txt and the DC-only profile, read back
through the real readers (line-streamed, gzip, XML) and analysed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import run
from ingest import load_events
from ingest.case import read_case
from ingest.formats.lanl_auth import read_redteam
from ingest.stream_case import ingest_to_case
from ingest.synthetic.auth_enterprise import START, dc_events, simulate_auth, write_lanl
from ingest.writers import write_events


@pytest.fixture(autouse=True)
def _epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATGRAPH_LANL_EPOCH", START.isoformat())


def test_same_seed_same_rows_and_truth_is_redteam(tmp_path: Path) -> None:
    a, b = simulate_auth(5, n_hosts=120, days=5), simulate_auth(5, n_hosts=120, days=5)
    pd.testing.assert_frame_equal(a.rows, b.rows)
    _, red = write_lanl(a, tmp_path)
    labels = read_redteam(red)
    assert len(labels) == len(a.truth.hops) > 0
    assert labels["ts"].min() == pd.Timestamp(START) + pd.Timedelta(seconds=min(h[0] for h in a.truth.hops))
    assert set(labels["src_host"]) <= set(a.truth.compromised)
    assert labels.iloc[0]["src_host"] == a.truth.patient_zero


def test_streamed_gzip_auth_txt_equals_direct_read(tmp_path: Path) -> None:
    sim = simulate_auth(2, n_hosts=120, days=5)
    auth, _ = write_lanl(sim, tmp_path, gz=True)
    direct, report = load_events([auth], workers=1)
    assert report.files[0].format == "lanl" and report.problem_count == 0
    n, _ = ingest_to_case([auth], tmp_path / "case.parquet", batch_size=5000)
    streamed = read_case(tmp_path / "case.parquet")
    assert n == len(direct) and set(streamed["event_id"]) == {4624, 4768, 4769}
    cols = ["ts", "event_id", "host", "src_host", "dst_host", "account", "logon_type", "auth_package"]
    pd.testing.assert_frame_equal(streamed[cols].reset_index(drop=True), direct[cols].reset_index(drop=True),
                                  check_categorical=False)


def _found(hops: pd.DataFrame, truth: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    med = hops[hops["severity"].isin(["medium", "high"])]
    return {k for k in zip(med["src_host"], med["dst_host"], med["account"], strict=True) if k in truth}


def test_lanl_case_finds_the_red_team(tmp_path: Path) -> None:
    sim = simulate_auth(0, n_hosts=300, days=6)
    auth, _ = write_lanl(sim, tmp_path)
    result = run([auth])
    truth = {(s, d, a.lower()) for _, a, s, d in sim.truth.hops}
    assert len(_found(result.hops, truth)) >= 0.8 * len(truth)
    assert result.patient_zero[0].host == sim.truth.patient_zero
    assert (result.hops["severity"] == "high").sum() <= 2 * len(truth)


def test_dc_only_profile_round_trips_as_windows_xml(tmp_path: Path) -> None:
    """The DC log written as Windows XML and read back gives the same hops as the canonical frame:
    the clients are named from the machines' own TGTs, the destinations from the SPNs."""
    sim = simulate_auth(1, n_hosts=120, days=5)
    events = dc_events(sim)
    last_dc = max(sim.ips, key=lambda h: int(h[1:]))
    assert set(events["event_id"]) == {4768, 4769, 4776} and set(events["host"]) == {last_dc}
    xml = tmp_path / "dc.xml"
    write_events(events, xml, "xml")
    back = run([xml]).hops
    direct = run([_case(events, tmp_path)]).hops
    key = ["src_host", "dst_host", "account", "first_seen", "score"]
    pd.testing.assert_frame_equal(back[key].reset_index(drop=True), direct[key].reset_index(drop=True))
    truth = {(s, d, a.lower()) for _, a, s, d in sim.truth.hops}
    got = set(zip(back["src_host"], back["dst_host"], back["account"], strict=True))
    assert got & truth                  # the attacker's Kerberos logons are visible from the DC alone


def _case(events: pd.DataFrame, tmp_path: Path) -> Path:
    from ingest.case import write_case

    return write_case(events, tmp_path / "dc.parquet")


def test_streamed_repeats_write_sorted_lines_of_the_same_rows(tmp_path: Path) -> None:
    """``write_lanl_lines`` (and so ``latgraph simulate --format lanl --events N``): about N lines in
    time order, each one of the enterprise's rows, the copies at most 10 minutes after their row."""
    from click.testing import CliRunner

    from app.cli import cli
    from ingest.synthetic.auth_enterprise import write_lanl_lines

    sim = simulate_auth(4, n_hosts=80, days=4)
    auth, red, lines = write_lanl_lines(sim, tmp_path / "a", 6 * len(sim.rows), seed=4, chunk=500)
    cols = ["time", "src_user", "dst_user", "src_pc", "dst_pc", "auth_type", "logon_type", "orientation",
            "result"]
    got = pd.read_csv(auth, header=None, names=cols, dtype=str, keep_default_na=False)
    assert len(got) == lines and abs(lines - 6 * len(sim.rows)) < 0.05 * lines
    times = got["time"].astype("int64")
    assert times.is_monotonic_increasing
    def key(frame: pd.DataFrame) -> pd.Series:
        return frame[cols[1:]].astype(str).agg("|".join, axis=1)

    base = pd.DataFrame({"k": key(sim.rows), "t": sim.rows["time"].astype("int64")}).sort_values("t")
    out = pd.DataFrame({"k": key(got), "t": times})
    assert set(out["k"]) == set(base["k"])                        # every row, nothing else
    m = pd.merge_asof(out, base.rename(columns={"t": "row_t"}).assign(t=base["t"]), on="t", by="k")
    assert m["row_t"].notna().all() and (m["t"] - m["row_t"]).max() < 600   # a copy follows its row
    assert read_redteam(red)["src_host"].iloc[0] == sim.truth.patient_zero
    auth2, _, _ = write_lanl_lines(sim, tmp_path / "b", 6 * len(sim.rows), seed=4)
    res = CliRunner().invoke(cli, ["simulate", "--format", "lanl", "--hosts", "80", "--days", "4",
                                   "--seed", "4", "--events", str(6 * len(sim.rows)),
                                   "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "auth.txt").read_bytes() == auth2.read_bytes()     # same seed, same lines


def test_streamed_repeat_ratio_fixes_lines_per_row(tmp_path: Path) -> None:
    """``write_lanl_lines(..., repeat=R)`` (``bench/analyze.py --lanl --repeat R``): about R lines per
    row whatever ``lines`` asks, every row present; R = 1 writes each row once."""
    from ingest.synthetic.auth_enterprise import write_lanl_lines

    sim = simulate_auth(5, n_hosts=80, days=4)
    _, _, lines = write_lanl_lines(sim, tmp_path / "a", 10, seed=5, repeat=2.5)
    assert abs(lines - 2.5 * len(sim.rows)) < 0.05 * lines
    auth, _, once = write_lanl_lines(sim, tmp_path / "b", 10**9, seed=5, repeat=1)
    assert once == len(sim.rows) == len(auth.read_text().splitlines())
