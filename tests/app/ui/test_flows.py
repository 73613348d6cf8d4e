"""AppTest flows on the real pipeline: load the demo, change the threshold, upload a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.ui import state
from tests.app.ui.conftest import ENTRY

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_dir(tmp_path_factory, monkeypatch) -> Path:
    """An empty demo folder: the Load page must generate the case on the fly."""
    folder = tmp_path_factory.getbasetemp() / "ui-demo"
    monkeypatch.setattr(state, "DEMO_DIR", folder)
    return folder


def _load_demo() -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=300)
    at.run()
    at.button(key="load.demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_load_demo_lands_on_overview_naming_true_patient_zero(demo_dir):
    at = _load_demo()
    assert at.title[0].value == "Overview"                   # landed on Overview
    assert any("Loaded" in s.value for s in at.success)
    assert (demo_dir / "events").exists()
    truth = json.loads((demo_dir / "truth.json").read_text())["patient_zero"]
    metric = next(m for m in at.metric if m.label == "Most likely patient zero")
    assert metric.value == truth
    # (AppTest runs the entry script, hence the sidebar, only on its first run: see the seeded test)
    assert "demo case" in at.session_state[state.SOURCE]
    at.switch_page("pages/load.py").run()
    report = next(df.value for df in at.dataframe if "kept" in df.value.columns)
    assert report["kept"].sum() > 0


def test_demo_button_asks_before_replacing_a_loaded_case(demo_dir):
    at = _load_demo()
    first = at.session_state[state.RESULT]
    at.switch_page("pages/load.py").run()
    at.button(key="load.demo").click().run()
    assert at.session_state[state.RESULT] is first            # nothing replaced yet
    assert any("Replace the loaded case" in w.value for w in at.warning)
    at.button(key="load.demo_no").click().run()
    assert at.session_state[state.RESULT] is first and not at.warning
    at.button(key="load.demo").click().run()
    at.button(key="load.demo_yes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state.RESULT] is not first and at.title[0].value == "Overview"


def _seeded(res) -> AppTest:
    """A fresh AppTest whose first run (the only one that draws the sidebar) has ``res`` loaded."""
    from tests.app.ui.conftest import seed_session

    at = AppTest.from_file(str(ENTRY), default_timeout=300)
    seed_session(at, res)
    at.session_state[state.SOURCE] = "demo case (seed 7)"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_threshold_in_sidebar_reruns_the_hop_stage(demo_dir):
    from app.pipeline import run

    _load_demo()
    before = run([demo_dir / "events"])
    at = _seeded(before)
    assert at.title[0].value == "Overview"                   # a loaded case opens on Overview
    assert any("demo case" in m.value for m in at.sidebar.markdown)
    assert at.sidebar.slider(key=state.THRESHOLD).value == before.config.min_score
    at.sidebar.slider(key=state.THRESHOLD).set_value(0.95).run()
    assert not at.exception, [e.value for e in at.exception]
    after = at.session_state[state.RESULT]
    assert after is not before and after.config.min_score == 0.95
    assert len(after.hops) == len(before.hops)                # same hops, same scores
    assert (after.hops["score"].to_numpy() == before.hops["score"].to_numpy()).all()
    n_above = int((after.hops["score"] >= 0.95).sum())
    assert len(after.compromised) <= len(before.compromised)
    metric = next(m for m in at.metric if m.label.startswith("Hops ≥ threshold"))
    assert metric.label == "Hops ≥ threshold 0.95" and metric.value == f"{n_above:,}"
    # the Settings page keeps the threshold when it re-runs with an allowlist
    at.switch_page("pages/settings.py").run()
    at.text_area(key="settings.allow_accounts").set_value("Administrator")
    at.button(key="settings.apply").click().run()
    assert not at.exception and not at.error
    final = at.session_state[state.RESULT]
    assert final.config.min_score == 0.95 and final.config.allowlist_accounts == frozenset({"administrator"})
    table = next(df.value for df in at.dataframe if "setting" in df.value.columns)
    assert table.set_index("setting").loc["min_score", "value"] == "0.95"
    at.switch_page("pages/paths.py").run()
    assert not at.exception


def test_server_path_and_missing_path_error(demo_dir, tmp_path):
    _load_demo()  # makes sure the demo case exists on disk
    at = AppTest.from_file(str(ENTRY), default_timeout=300)
    at.run()
    at.text_area(key="load.paths").set_value(str(tmp_path / "nope.evtx")).run()
    at.button(key="load.paths_go").click().run()
    assert at.error and "Loading failed" in at.error[0].value
    assert "not found on the server" in at.code[0].value
    at.text_area(key="load.paths").set_value(str(demo_dir / "events")).run()
    at.button(key="load.paths_go").click().run()
    assert not at.error and at.session_state[state.RESULT] is not None
    assert at.session_state[state.SOURCE].startswith("server: ")


def test_upload_is_written_inside_a_private_temp_folder(demo_dir, tmp_path):
    """The upload path: a hostile file name lands as its base name in the session's temp folder."""
    pytest.importorskip("streamlit.testing.v1.element_tree", reason="AppTest")
    at = AppTest.from_file(str(ENTRY), default_timeout=300)
    at.run()
    if not hasattr(at, "file_uploader") or not at.file_uploader:
        pytest.skip("this Streamlit's AppTest cannot drive st.file_uploader")
    line = json.dumps({"@timestamp": "2024-03-01T10:00:00Z", "winlog": {
        "event_id": 4624, "channel": "Security", "computer_name": "srv01", "record_id": 1,
        "event_data": {"LogonType": "3", "TargetUserName": "bob", "IpAddress": "10.0.0.9",
                       "TargetLogonId": "0x1"}}})
    at.file_uploader(key="load.upload").upload("../../evil.jsonl", line.encode(), "application/json")
    at.run()
    at.button(key="load.upload_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    folder = Path(at.session_state[state.UPLOAD_DIR])
    assert (folder / "evil.jsonl").is_file()
    assert not (folder.parent.parent / "evil.jsonl").exists()
    assert at.session_state[state.SOURCE] == "upload: evil.jsonl"   # the sidebar names the upload


def test_threshold_change_equals_a_fresh_run_and_keeps_routine_groups() -> None:
    """Re-thresholding in the UI gives what a fresh analysis at that threshold gives, routine
    groups included (they were dropped once, so Overview lost "routine continued" after a move)."""
    from dataclasses import replace

    from app.pipeline import analyze_from_events
    from ingest.report import IngestReport
    from ingest.synthetic import simulate

    events = simulate(3, scenario="deploy-server", n_workstations=30, n_servers=4, days=3).events
    before = analyze_from_events(events, IngestReport())
    assert before.routine_groups, "the deploy-server scenario must give a routine group"
    at = _seeded(before)
    at.sidebar.slider(key=state.THRESHOLD).set_value(0.7).run()
    assert not at.exception, [e.value for e in at.exception]
    after = at.session_state[state.RESULT]
    fresh = analyze_from_events(events, IngestReport(), config=replace(before.config, min_score=0.7))
    assert after.config.min_score == 0.7
    assert [g.to_dict() for g in after.routine_groups] == [g.to_dict() for g in fresh.routine_groups]
    assert [(p.host, p.score) for p in after.patient_zero] == [(p.host, p.score) for p in fresh.patient_zero]
    assert [p.hosts for p in after.paths] == [p.hosts for p in fresh.paths]
