"""The command-line case analysed in a background job from server start (app/ui/background.py)."""

from __future__ import annotations

import os

import pytest

from app.pipeline import run
from app.ui import background
from app.ui.background import Progress, boot_inputs, job, job_key
from graph.config import AnalysisConfig
from graph.toy import toy_events
from ingest.case import write_case


@pytest.fixture()
def case(tmp_path):
    path = tmp_path / "case.parquet"
    write_case(toy_events("A>B@0s B>C@1h C>D@2h"), path)
    return path


def test_boot_inputs_come_after_the_double_dash_only_under_latgraph_ui(monkeypatch):
    argv = ["-c", "run", "app.py", "--server.port", "1", "--", "/x/case.parquet", "/y"]
    monkeypatch.delenv(background.ARGV_FLAG, raising=False)
    assert boot_inputs(argv) == []                      # a bare `streamlit run`: no inputs
    monkeypatch.setenv(background.ARGV_FLAG, "1")
    assert boot_inputs(argv) == ["/x/case.parquet", "/y"]
    assert boot_inputs(["-c", "run", "app.py"]) == []


def test_job_gives_the_pipeline_result_with_stage_timings(case):
    cfg = AnalysisConfig()
    j = job([str(case)], cfg)
    assert j.done.wait(60) and j.error is None
    want = run([case], config=cfg)
    assert j.result.patient_zero[0].host == want.patient_zero[0].host == "A"
    assert j.result.hops.equals(want.hops)
    assert set(j.timings) == {"read", "events", "hops", "total"}
    frac, text = j.progress.snapshot()
    assert frac == pytest.approx(0.95) and text.startswith("Step 3 of 3: Paths")
    assert job([str(case)], cfg) is j                   # a second session: the same finished job


def test_a_changed_file_or_other_settings_start_a_new_job(case):
    cfg = AnalysisConfig()
    first = job([str(case)], cfg)
    first.done.wait(60)
    other = job([str(case)], AnalysisConfig(min_score=0.9))
    assert other is not first and other.done.wait(60) and other.result.config.min_score == 0.9
    key = job_key([str(case)], cfg)
    write_case(toy_events("A>B@0s"), case)
    os.utime(case, ns=(1, 1))                           # a new mtime even within one clock tick
    assert job_key([str(case)], cfg) != key
    again = job([str(case)], cfg)
    assert again is not first and again.done.wait(60) and len(again.result.hops) == 1


def test_a_bad_file_is_reported_and_a_forgotten_job_starts_afresh(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    j = job([str(bad)], AnalysisConfig())
    assert j.done.wait(60) and j.error is None          # one bad file never aborts: it is reported
    assert "not a readable Parquet case file" in j.result.report.failed_files[0].error
    background.forget(j)
    assert job([str(bad)], AnalysisConfig(), start=False) is None
    assert job([str(bad)], AnalysisConfig()) is not j


def test_progress_names_step_stage_and_percentage():
    p = Progress()
    assert p.snapshot()[1].startswith("Step 1 of 3: Reading logs · 0%")
    p.files(1, 4, "/logs/Security.evtx")
    frac, text = p.snapshot()
    assert frac == pytest.approx(0.10) and "(1 of 4 files: Security.evtx) · 10%" in text
    p.stage("events")
    assert p.snapshot()[1].startswith("Step 2 of 3: Analysing events") and p.snapshot()[0] == 0.40
    p.stage("hops")
    t = p.finish()
    assert set(t) == {"read", "events", "hops", "total"}
