"""The pure graph view and its HTML: filters, cap + aggregation, layout, escaping, offline page."""

from __future__ import annotations

import doctest
import json
import re

import pytest

import app.ui.common
import app.ui.derived
import app.ui.graph_html
import app.ui.state
import app.ui.uploads
import app.ui.view
from app.ui.graph_html import edges_table, graph_html
from app.ui.view import ALL_SEVERITIES, GROUP, ViewOptions, build_view, group_key
from tests.app.ui.fixtures import ATTACK_CHAIN, PATIENT_ZERO, spread_result

PAYLOAD_IMG = "<img src=x onerror=window.__xss=1>"
PAYLOAD_SCRIPT = "<script>window.__xss=2</script>"


@pytest.mark.parametrize("module", [app.ui.view, app.ui.graph_html, app.ui.common, app.ui.state,
                                    app.ui.derived, app.ui.uploads])
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def _vis_data(page: str, name: str) -> list[dict]:
    """The node or edge list pyvis serialised into the page."""
    m = re.search(rf"{name} = new vis\.DataSet\((\[.*?\])\);", page, flags=re.S)
    assert m, f"no {name} DataSet in the page"
    return json.loads(m.group(1))


def test_default_view_shows_attack_with_patient_zero_marked():
    res = spread_result(40)
    page, view = graph_html(res, ViewOptions(severities=("high", "medium")))
    nodes = {n["id"]: n for n in _vis_data(page, "nodes")}
    assert set(ATTACK_CHAIN) <= set(nodes)
    assert nodes[PATIENT_ZERO]["shape"] == "star"
    assert "SCCM01" not in nodes  # its hops are low
    assert all(n["physics"] is False and "x" in n and "y" in n for n in nodes.values())
    assert '"physics": {"enabled": false}' in page
    assert view.shown_hops == int(res.hops["severity"].isin(["high", "medium"]).sum())


def test_compromise_colour_runs_from_early_to_late():
    res = spread_result(40)
    nodes = {n["id"]: n for n in _vis_data(graph_html(res, ViewOptions())[0], "nodes")}
    assert nodes[PATIENT_ZERO]["color"] == "#7f0000"     # earliest compromise
    assert nodes["DC01"]["color"] != nodes[PATIENT_ZERO]["color"]
    assert nodes["SCCM01"]["color"] == "#9e9e9e"        # never compromised


def test_edge_kind_and_time_filters():
    res = spread_result(40)
    only_logon = build_view(res, ViewOptions(severities=ALL_SEVERITIES, kinds=("service_install",)))
    hop_edges = [e for e in only_logon.edges if e["kind"] == "hop"]
    assert hop_edges and all("service_install" in e["kinds"] for e in hop_edges)
    t = res.hops.loc[res.paths[0].hop_ids[0], "first_seen"]
    early = build_view(res, ViewOptions(severities=ALL_SEVERITIES, until=t.to_pydatetime()))
    assert all(e["first_seen"] <= t for e in early.edges)
    assert "DC01" not in {n["id"] for n in early.nodes}


def test_cap_aggregates_and_reports_what_is_hidden():
    res = spread_result(2000)
    opts = ViewOptions(severities=ALL_SEVERITIES, max_nodes=200)
    view = build_view(res, opts)
    assert len(view.nodes) <= 200
    assert view.total_nodes > 2000 and view.grouped_nodes > 0
    groups = [n for n in view.nodes if n["kind"] == GROUP]
    assert groups and sum(g["members"] for g in groups) == view.grouped_nodes
    kept = {n["id"] for n in view.nodes}
    assert set(ATTACK_CHAIN) <= kept  # important nodes survive the cap
    assert f"Showing {len(view.nodes):,} of {view.total_nodes:,} nodes" in view.note
    ids = {n["id"] for n in view.nodes}
    assert all(e["src"] in ids and e["dst"] in ids for e in view.edges)


def test_group_keys():
    assert group_key({"kind": "host", "id": "192.168.7.9"}) == "group:host:192.168.7.0/24"
    assert group_key({"kind": "host", "id": "SRV-DB-01"}) == "group:host:SRV*"


def test_hierarchical_layout_goes_left_to_right_along_the_path():
    res = spread_result(40)
    path = res.paths[0]
    view = build_view(res, ViewOptions(layout="hierarchical", only_hop_ids=path.hop_ids,
                                       highlight_hop_ids=path.hop_ids, show_accounts=False))
    x = {n["id"]: n["x"] for n in view.nodes}
    xs = [x[h] for h in path.hosts]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert all(e["highlight"] for e in view.edges)


def test_attacker_strings_are_escaped_and_never_raw_in_the_page():
    res = spread_result(40, payload=PAYLOAD_IMG + PAYLOAD_SCRIPT)
    page, _ = graph_html(res, ViewOptions(severities=ALL_SEVERITIES))
    assert PAYLOAD_IMG not in page and PAYLOAD_SCRIPT not in page
    assert "<img src=x" not in page and "<script>window.__xss" not in page
    nodes = _vis_data(page, "nodes")
    evil = [n for n in nodes if "onerror" in n["id"]]
    assert evil, "the payload host must be drawn"
    for n in evil:
        assert "<img" not in n["title"] and "&lt;img src=x onerror" in n["title"]
        assert n["label"].startswith(("WS9999<img", "user<img"))  # canvas text, JSON-escaped in page
    for e in _vis_data(page, "edges"):
        assert "<img" not in e["title"] and "<script" not in e["title"]


def test_control_characters_and_long_names_are_cleaned():
    res = spread_result(40, payload="\x1b[31m" + "A" * 80)
    nodes = _vis_data(graph_html(res, ViewOptions(severities=ALL_SEVERITIES))[0], "nodes")
    label = next(n["label"] for n in nodes if n["id"].startswith("WS9999"))
    assert "\x1b" not in label and len(label) <= 40


def test_page_works_offline():
    page, _ = graph_html(spread_result(40), ViewOptions())
    assert "cdn.jsdelivr.net" not in page and "cdnjs.cloudflare.com/ajax/libs/vis-network" not in page
    assert "vis-network" in page or "vis.Network" in page  # inlined library


def test_edges_table_matches_the_drawing():
    res = spread_result(40)
    page, view = graph_html(res, ViewOptions())
    table = edges_table(view)
    assert len(table) == len(_vis_data(page, "edges")) == len(view.edges)
    assert table["score"].is_monotonic_decreasing


def test_empty_filter_result():
    res = spread_result(40)
    view = build_view(res, ViewOptions(search="no-such-host"))
    assert view.nodes == [] and view.shown_hops == 0
    page, _ = graph_html(res, ViewOptions(search="no-such-host"))
    assert "Showing 0 of 0 nodes" in page
