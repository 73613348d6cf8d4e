"""AppTest: page state lives in the URL's query parameters, so a reload or a shared link restores it.

Widgets bound with ``bind=state.URL`` (graph filters, layout, focus, drill-down entity, replay step,
findings filters, the sidebar threshold) are initialised from the URL by Streamlit itself; the
threshold, the selected path and the graph selection are analysis state that ``app.ui.state`` reads
from (and writes to) the URL. A new AppTest session with ``query_params`` set is what a reload or an
opened link is to the server.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.pipeline import run
from app.ui import state
from app.ui.graph_component import selection_key
from graph.toy import toy_events
from tests.app.ui.conftest import ENTRY, seed_session
from tests.app.ui.fixtures import ATTACK_CHAIN, PATIENT_ZERO

TIMEOUT = 60


@pytest.fixture(scope="module")
def analysed():
    """A result of the real pipeline (the threshold re-runs its hop stage): one chain of three
    PsExec/smbexec hops (0.98, 0.98, 0.80) and three weak hops."""
    return run(toy_events("WS1>SRV1@0s:psexec SRV1>SRV2@10m:psexec SRV2>DC1@20m:smbexec "
                          "WS9>SRV5@1h:logon WS8>SRV6@2h:share WS7>SRV7@3h:discovery"))


def opened(res, page: str, params: dict[str, str | list[str]]) -> AppTest:
    """A new session (a reload, or a shared link opened) on ``page`` with ``params`` in the URL."""
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    seed_session(at, res)
    at.query_params.update(params)
    at.run()                       # the entry script (sidebar: threshold, path) on the landing page
    if page != "pages/overview.py":
        at.switch_page(page)       # AppTest runs only the page script from here on
        at.query_params.update(params)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_graph_filters_layout_and_focus_come_back_from_the_url(result):
    host = ATTACK_CHAIN[1]
    at = opened(result, "pages/graph_view.py", {
        "graph.layout": "hierarchical", "graph.focus": host, "graph.depth": "2",
        "graph.severity": ["high", "medium"], "graph.scope": "all hops", "graph.search": "WS",
        "graph.max_nodes": "150", "graph.accounts": "false"})
    assert at.radio(key="graph.layout").value == "hierarchical"
    assert at.selectbox(key="graph.focus").value == host
    assert at.slider(key="graph.depth").value == 2
    assert at.multiselect(key="graph.severity").value == ["high", "medium"]
    assert at.radio(key="graph.scope").value == "all hops"
    assert at.text_input(key="graph.search").value == "WS"
    assert at.slider(key="graph.max_nodes").value == 150
    assert at.checkbox(key="graph.accounts").value is False
    opts = at.session_state[state.GRAPH_OPTS]             # the graph drawn follows the restored state
    assert (opts.layout, opts.focus, opts.focus_depth, opts.max_nodes) == ("hierarchical", host, 2, 150)
    assert opts.severities == ("high", "medium") and opts.min_score is None and not opts.show_accounts


def test_unknown_values_in_the_url_fall_back_to_defaults(result):
    at = opened(result, "pages/graph_view.py", {"graph.focus": "NO-SUCH-HOST<script>", "graph.layout": "x",
                                                 "latgraph.threshold": "7", "path": "999", "sel": "bogus"})
    assert at.selectbox(key="graph.focus").value == "(none)"
    assert at.radio(key="graph.layout").value == "spring"
    assert at.session_state[state.CONFIG].min_score == result.config.min_score   # 7 is out of range
    assert at.session_state[state.SELECTED_PATH] is None
    assert selection_key("graph.canvas") not in at.session_state


def test_threshold_from_the_url_reruns_the_hop_stage(analysed):
    wanted = 0.9
    at = opened(analysed, "pages/overview.py", {"latgraph.threshold": str(wanted)})
    shown = at.session_state[state.RESULT]
    assert shown.config.min_score == wanted and shown is not analysed      # the hop stage re-ran
    assert at.session_state[state.THRESHOLD] == wanted                     # the sidebar slider says so
    expected = int((shown.hops["score"] >= wanted).sum())
    assert 0 < expected < int((analysed.hops["score"] >= analysed.config.min_score).sum())
    assert any(f"Threshold {wanted:.2f} (sidebar): {expected:,} of {len(shown.hops):,} hops" in c.value
               for c in at.caption)
    at.switch_page("pages/paths.py").run()                                  # and the other pages follow it
    assert any(f"Threshold {wanted:.2f}" in c.value for c in at.caption)


def test_selected_path_and_path_context_come_back_from_the_url(result):
    assert len(result.paths) >= 2, "the fixture needs two paths"
    at = opened(result, "pages/paths.py", {"path": "2", "paths.context": "true"})
    assert at.session_state[state.SELECTED_PATH] == 1
    assert at.selectbox(key="paths.select").value == 1
    assert at.toggle(key="paths.context").value is True
    assert at.query_params.get("path") in ("2", ["2"])


def test_graph_selection_comes_back_from_the_url_and_is_written_to_it(result):
    hop = result.hops.sort_values("score", ascending=False).iloc[0]
    at = opened(result, "pages/graph_view.py", {"sel": f"edge:e{int(hop['hop_id'])}",
                                                 "sel_hops": str(int(hop["hop_id"]))})
    chosen = at.session_state[selection_key("graph.canvas")]
    assert chosen["kind"] == "edge" and chosen["hop_ids"] == [int(hop["hop_id"])]
    assert any(str(hop["dst_host"]) in s.value for s in at.subheader)    # the hop panel is open
    at = opened(result, "pages/graph_view.py", {"sel": f"node:{PATIENT_ZERO}"})
    assert any(f"Host {PATIENT_ZERO}" in s.value for s in at.subheader)
    assert any(m.label == "Patient-zero rank" and m.value == "#1" for m in at.metric)
    at.button(key="graph.clear").click().run()                          # clearing takes it out of the URL
    assert "sel" not in at.query_params
    assert selection_key("graph.canvas") not in at.session_state


def test_drilldown_entity_and_replay_step_come_back_from_the_url(result):
    at = opened(result, "pages/drilldown.py", {"drill.kind": "host", "drill.name": ATTACK_CHAIN[2]})
    assert at.selectbox(key="drill.name").value == ATTACK_CHAIN[2]
    at = opened(result, "pages/replay.py", {"replay.step": "2", "replay.low": "false"})
    assert at.slider(key="replay.step").value == 2
    assert any("Step 2 of" in m.value for m in at.markdown)
