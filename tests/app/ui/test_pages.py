"""AppTest: every page renders, with and without data, and the main interactions work."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.ui import state
from tests.app.ui.conftest import ENTRY, seed_session
from tests.app.ui.fixtures import ATTACK_CHAIN, PATIENT_ZERO

PAGES = ["pages/load.py", "pages/settings.py", "pages/overview.py", "pages/graph_view.py",
         "pages/replay.py", "pages/paths.py", "pages/findings.py", "pages/drilldown.py", "pages/exports.py"]
TIMEOUT = 60


def app(res=None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    if res is not None:
        seed_session(at, res)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, *columns: str):
    """The first dataframe shown with all of ``columns`` (AppTest does not expose dataframe keys)."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no dataframe with columns {columns}")


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.text, *at.info, *at.title, *at.subheader)]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_data(page, result):
    at = app(result, page)
    assert at.title[0].value  # every page has a title


@pytest.mark.parametrize("page", [p for p in PAGES if p != "pages/load.py"])
def test_page_without_data_points_to_load(page):
    at = app(None, page)
    assert "No data loaded yet" in texts(at)


def test_overview_names_patient_zero(result):
    at = app(result, "pages/overview.py")
    metric = next(m for m in at.metric if m.label == "Most likely patient zero")
    assert metric.value == PATIENT_ZERO
    pz = frame(at, "rank", "host", "confidence")
    assert pz["host"].iloc[0] == PATIENT_ZERO and 0 < pz["confidence"].iloc[0] <= 1
    assert next(m for m in at.metric if m.label == "Hops high").value == str(
        int((result.hops["severity"] == "high").sum()))


def test_graph_filters_change_the_table(result):
    at = app(result, "pages/graph_view.py")
    table = frame(at, "source", "target", "severity")
    assert set(table["severity"]) <= {"high", "medium"}
    assert {"WS0007", "SRV001"} <= set(table["source"])
    at.multiselect(key="graph.severity").set_value(["high", "medium", "low"]).run()
    wider = frame(at, "source", "target", "severity")
    assert len(wider) > len(table) and "low" in set(wider["severity"])
    at.text_input(key="graph.search").set_value("dc01").run()
    only = frame(at, "source", "target", "severity")
    assert len(only) >= 1 and all("DC01" in (s + t) for s, t in zip(only["source"], only["target"],
                                                                        strict=True))
    assert any("Showing" in c.value for c in at.caption)


def test_graph_focus_neighbourhood(result):
    at = app(result, "pages/graph_view.py")
    at.selectbox(key="graph.focus").set_value("DC01").run()
    table = frame(at, "source", "target", "severity")
    hosts = set(table["source"]) | set(table["target"])
    assert "DC01" in hosts and "SRV002" in hosts and "WS0007" not in hosts  # depth 1
    at.slider(key="graph.depth").set_value(3).run()
    table = frame(at, "source", "target", "severity")
    assert "WS0007" in set(table["source"])


def test_select_path_shows_evidence_and_highlights_graph(result):
    at = app(result, "pages/paths.py")
    ranked = frame(at, "rank", "hosts", "accounts")
    assert ranked["hosts"].iloc[0] == " → ".join(ATTACK_CHAIN)
    at.selectbox(key="paths.select").set_value(1).run()
    assert at.session_state[state.SELECTED_PATH] == 1
    evidence = frame(at, "step", "event_id", "record_id")
    assert {"event_id", "record_id", "source_file"} <= set(evidence.columns)
    assert set(evidence["hop_id"]) == set(result.paths[1].hop_ids)
    at.switch_page("pages/graph_view.py").run()
    assert at.checkbox(key="graph.highlight").value is True


def test_replay_slider_limits_the_spread(result):
    at = app(result, "pages/replay.py")
    full = len(frame(at, "first_seen", "dst_host", "severity"))
    hops = result.hops[result.hops["severity"].isin(["high", "medium"])]
    at.slider(key="replay.until").set_value(hops["first_seen"].min().to_pydatetime()).run()
    early = len(frame(at, "first_seen", "dst_host", "severity"))
    assert 1 <= early < full


def test_drilldown_host_and_account(result):
    at = app(result, "pages/drilldown.py")
    at.selectbox(key="drill.name").set_value("SRV001").run()
    hops = frame(at, "hop_id", "dst_host", "n_events")
    assert len(hops) > 0 and ((hops["src_host"] == "SRV001") | (hops["dst_host"] == "SRV001")).all()
    assert (frame(at, "event_id", "logon_id")["host"].notna()).all()
    at.radio(key="drill.kind").set_value("account").run()
    at.selectbox(key="drill.name").set_value("adm_eve").run()
    assert (frame(at, "hop_id", "dst_host", "n_events")["account"] == "adm_eve").all()


def test_exports_offer_every_format_and_the_graph(result):
    from app.exports import EXPORTERS

    at = app(result, "pages/exports.py")
    keys = {b.key for b in at.get("download_button")}
    assert {f"exports.{name}" for name in EXPORTERS} | {"exports.graph_html"} <= keys


def test_settings_without_pipeline_show_config(result):
    at = app(result, "pages/settings.py")
    table = frame(at, "setting", "value")
    assert "min_score" in set(table["setting"])


def test_findings_page_lists_the_atomic_tests():
    from app.pipeline import run
    from tests.conftest import REPO

    res = run([REPO / "tests" / "data" / "techniques" / "atomic_t1021_002.xml"])
    at = app(res, "pages/findings.py")
    table = frame(at, "level", "host", "rule", "command_line")
    assert len(table) == 4 and set(table["host"]) == {"LAB-WIN10"}
    assert table["command_line"].str.contains("127.0.0.1", regex=False).all()
