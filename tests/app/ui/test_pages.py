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
    above = int((result.hops["score"] >= result.config.min_score).sum())
    metric = next(m for m in at.metric if m.label.startswith("Hops ≥ threshold"))
    assert metric.label == f"Hops ≥ threshold {result.config.min_score:.2f}" and metric.value == f"{above:,}"
    assert any("Threshold 0.40" in c.value for c in at.caption)


def test_graph_table_is_one_row_per_hop_and_follows_the_threshold(result):
    at = app(result, "pages/graph_view.py")
    table = frame(at, "hop_id", "src_host", "severity", "score")
    assert table["hop_id"].is_unique
    assert len(table) == int((result.hops["score"] >= result.config.min_score).sum())
    assert {"WS0007", "SRV001"} <= set(table["src_host"].dropna())
    at.radio(key="graph.scope").set_value("all hops").run()
    wider = frame(at, "hop_id", "src_host", "severity", "score")
    assert len(wider) == len(result.hops) and "low" in set(wider["severity"])
    at.text_input(key="graph.search").set_value("dc01").run()
    only = frame(at, "hop_id", "src_host", "severity", "score")
    assert len(only) >= 1 and ((only["src_host"] == "DC01") | (only["dst_host"] == "DC01")).all()
    assert any("Showing" in c.value for c in at.caption)


def test_graph_focus_neighbourhood(result):
    at = app(result, "pages/graph_view.py")
    at.selectbox(key="graph.focus").set_value("DC01").run()
    table = frame(at, "hop_id", "src_host", "severity", "score")
    hosts = set(table["src_host"].dropna()) | set(table["dst_host"])
    assert "DC01" in hosts and "SRV002" in hosts and "WS0007" not in hosts  # depth 1
    at.slider(key="graph.depth").set_value(3).run()
    table = frame(at, "hop_id", "src_host", "severity", "score")
    assert "WS0007" in set(table["src_host"])


def test_graph_state_is_kept_across_pages(result):
    at = app(result, "pages/graph_view.py")
    at.radio(key="graph.layout").set_value("hierarchical").run()
    at.text_input(key="graph.search").set_value("srv").run()
    at.switch_page("pages/overview.py").run()
    at.switch_page("pages/graph_view.py").run()
    assert at.radio(key="graph.layout").value == "hierarchical"
    assert at.text_input(key="graph.search").value == "srv"


def test_click_on_a_low_edge_opens_its_evidence(result):
    """What the graph component hands over on a click: the hop panel of a low hop shows its evidence."""
    low = result.hops[result.hops["severity"] == "low"].iloc[0]
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    seed_session(at, result)
    at.session_state["graph.canvas.selection"] = {"kind": "edge", "id": "e1", "hop_ids": [int(low["hop_id"])]}
    at.run()
    at.switch_page("pages/graph_view.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Hop {int(low['hop_id'])}" in m.value and "severity **low**" in m.value for m in at.markdown)
    evidence = frame(at, "event_id", "record_id", "source_file", "logon_type")
    assert set(evidence["source_file"]) == {e["source_file"] for e in low["evidence"]}
    assert (evidence["logon_type"] == 3).any()              # a key field joined from the event


def test_click_on_a_host_opens_its_drilldown(result):
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    seed_session(at, result)
    at.session_state["graph.canvas.selection"] = {"kind": "node", "id": "SRV001", "hop_ids": []}
    at.run()
    at.switch_page("pages/graph_view.py").run()
    assert any(s.value == "Host SRV001" for s in at.subheader)
    hops = frame(at, "hop_id", "src_host", "dst_host", "score")
    assert ((hops["src_host"] == "SRV001") | (hops["dst_host"] == "SRV001")).all()
    at.button(key="graph.sel.open_host").click().run()
    assert at.title[0].value == "Host / account drill-down"
    assert at.selectbox(key="drill.name").value == "SRV001"


def test_select_path_shows_evidence_and_highlights_graph(result):
    at = app(result, "pages/paths.py")
    ranked = frame(at, "rank", "hosts", "accounts")
    assert ranked["hosts"].iloc[0] == " → ".join(ATTACK_CHAIN)
    at.selectbox(key="paths.select").set_value(1).run()
    assert at.session_state[state.SELECTED_PATH] == 1
    steps = frame(at, "hop_id", "src_host", "dst_host", "score")
    assert set(steps["hop_id"]) == set(result.paths[1].hop_ids)
    evidence = frame(at, "event_id", "record_id", "source_file")
    assert len(evidence) >= 1
    at.switch_page("pages/graph_view.py").run()
    assert at.checkbox(key="graph.highlight").value is True


def test_replay_steps_hop_by_hop(result):
    at = app(result, "pages/replay.py")

    def so_far() -> int:
        return int(next(m for m in at.metric if m.label == "Hops so far").value.replace(",", ""))

    full = so_far()
    assert full == int((result.hops["score"] >= result.config.min_score).sum())
    at.button(key="replay.first").click().run()
    first = so_far()
    assert 1 <= first < full
    at.button(key="replay.next").click().run()
    assert so_far() > first
    at.button(key="replay.prev").click().run()
    assert so_far() == first
    at.checkbox(key="replay.low").check().run()               # the hops below the threshold too
    last = at.slider(key="replay.step")
    last.set_value(last.max).run()
    assert so_far() == len(result.hops) > full


def test_drilldown_host_and_account(result):
    at = app(result, "pages/drilldown.py")
    assert at.selectbox(key="drill.name").value == PATIENT_ZERO   # opens on patient zero
    at.selectbox(key="drill.name").set_value("SRV001").run()
    hops = frame(at, "hop_id", "dst_host", "n_events")
    assert len(hops) > 0 and ((hops["src_host"] == "SRV001") | (hops["dst_host"] == "SRV001")).all()
    assert any(m.value.startswith("**Hop ") for m in at.markdown)   # the top hop's panel is open
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
