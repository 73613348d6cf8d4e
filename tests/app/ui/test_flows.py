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


def test_load_demo_then_overview_names_true_patient_zero(demo_dir):
    at = _load_demo()
    assert any("Loaded" in s.value for s in at.success)
    assert (demo_dir / "events").exists()
    truth = json.loads((demo_dir / "truth.json").read_text())["patient_zero"]
    report = next(df.value for df in at.dataframe if "kept" in df.value.columns)
    assert report["kept"].sum() > 0
    at.switch_page("pages/overview.py").run()
    metric = next(m for m in at.metric if m.label == "Most likely patient zero")
    assert metric.value == truth


def test_change_threshold_reruns_analysis(demo_dir):
    at = _load_demo()
    before = at.session_state[state.RESULT]
    at.switch_page("pages/settings.py").run()
    at.slider(key="settings.min_score").set_value(0.95)
    at.text_area(key="settings.allow_accounts").set_value("Administrator")
    at.button(key="settings.apply").click().run()
    assert not at.exception and not at.error
    after = at.session_state[state.RESULT]
    assert after is not before
    assert after.config.min_score == 0.95 and after.config.allowlist_accounts == frozenset({"administrator"})
    assert len(after.hops) == len(before.hops)              # same events, re-scored
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
