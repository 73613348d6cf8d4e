"""Spread graph: filtered, capped, clickable view of hosts and accounts; a click opens the drill-down."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.ui import state
from app.ui.common import hosts_of, legend, require_result, safe_csv, selection_panel, threshold_caption
from app.ui.evidence import hop_table, show_hops_and_evidence
from app.ui.graph_component import clear_selection, spread_graph
from app.ui.view import ALL_SEVERITIES, ViewOptions, filter_hops
from graph.model import EdgeKind

st.title("Spread graph")
res = require_result()
threshold_caption(res)
hops = res.hops
keep = state.keep

with st.expander("Filters", expanded=False):
    c1, c2, c3 = st.columns(3)
    keep("graph.scope", "at or above the threshold")
    scope = c1.radio("Hops", ["at or above the threshold", "all hops"], key="graph.scope", horizontal=True,
                     bind=state.URL)
    keep("graph.severity", list(ALL_SEVERITIES))
    severities = c2.multiselect("Severity", ALL_SEVERITIES, list(ALL_SEVERITIES), key="graph.severity",
                                 bind=state.URL)
    keep("graph.kinds", [])
    kinds = c3.multiselect("Edge kinds (any of)", [k.value for k in EdgeKind], key="graph.kinds",
                           placeholder="all kinds", bind=state.URL)
    c4, c5, c6 = st.columns(3)
    hosts = hosts_of(res)
    keep("graph.search", "")
    search = c4.text_input("Search host / account", key="graph.search", bind=state.URL)
    if keep("graph.focus", "(none)") not in ("(none)", *hosts):
        st.session_state["graph.focus"] = "(none)"
    focus = c5.selectbox("Focus on host", ["(none)", *hosts], key="graph.focus", bind=state.URL)
    keep("graph.depth", 1)
    depth = c6.slider("Neighbourhood depth (hops)", 1, 4, key="graph.depth", bind=state.URL)
    c7, c8, c9 = st.columns(3)
    keep("graph.layout", "spring")
    layout = c7.radio("Layout", ["spring", "hierarchical"], horizontal=True, key="graph.layout",
                      bind=state.URL,
                      help="hierarchical = left to right, by hop depth from the earliest sources")
    keep("graph.accounts", True)
    show_accounts = c8.checkbox("Show account nodes", True, key="graph.accounts", bind=state.URL)
    keep("graph.max_nodes", 300)
    max_nodes = c9.slider("Node cap (the rest is aggregated)", 50, 1500, 300, step=50, key="graph.max_nodes",
                          bind=state.URL)
    sel = state.selected_path()
    keep("graph.highlight", True)
    highlight = st.checkbox("Highlight the path selected on the Paths page", True, key="graph.highlight",
                            bind=state.URL,
                            disabled=sel is None)
    start = end = None
    if not hops.empty:
        lo = hops["first_seen"].min().to_pydatetime()
        hi = hops["last_seen"].max().to_pydatetime()
        if hi > lo:
            window = keep("graph.window", (lo, hi))
            if not (isinstance(window, tuple | list) and len(window) == 2 and lo <= window[0] <= hi
                    and lo <= window[1] <= hi):
                st.session_state["graph.window"] = (lo, hi)
            span = hi - lo
            step = timedelta(minutes=1) if span <= timedelta(days=2) else timedelta(minutes=15)
            start, end = st.slider("Time window (UTC)", lo, hi, (lo, hi), step=step,
                                   format="YYYY-MM-DD HH:mm", key="graph.window", bind=state.URL)

path_ids: tuple[int, ...] = ()
if highlight and sel is not None and sel < len(res.paths):
    path_ids = tuple(res.paths[sel].hop_ids)
state.url_set(state.URL_PATH, str(sel + 1) if sel is not None and sel < len(res.paths) else None)
opts = ViewOptions(severities=tuple(severities), kinds=tuple(kinds), start=start, end=end, search=search,
                   min_score=res.config.min_score if scope == "at or above the threshold" else None,
                   focus=None if focus == "(none)" else focus, focus_depth=depth,
                   highlight_hop_ids=path_ids, show_accounts=show_accounts, max_nodes=max_nodes,
                   layout=layout)
st.session_state[state.GRAPH_OPTS] = opts
page, view = state.graph_view(opts)
st.caption(view.note + " Click a host, an account or a hop to open it below; scroll to zoom "
           "(labels stay readable and appear as you zoom in).")
graph_tab, table_tab = st.tabs(["Graph", "Table (one row per hop)"])
with graph_tab:
    legend()
    if view.nodes:
        selection = spread_graph(page, height=opts.height_px, key="graph.canvas")
        standalone, _ = state.graph_view(opts, standalone=True)
        st.download_button("Download this graph (HTML)", standalone.encode("utf-8"),
                           f"{state.export_stem()}-graph.html", "text/html", key="graph.html_download")
        if selection:
            st.divider()
            if st.button("Clear the selection", key="graph.clear"):
                clear_selection("graph.canvas")
                st.rerun()
            selection_panel(res, selection, view, key="graph.sel")
        else:
            st.info("Click a node or a hop in the graph to see its details and evidence here.")
    else:
        st.info("No hop matches these filters.")
with table_tab:
    shown = filter_hops(res, opts)
    table = hop_table(shown.sort_values(["score", "first_seen"], ascending=[False, True]))
    st.caption(f"{len(table):,} hops match the filters (the graph may aggregate some into group nodes). "
               "Click a row to open its evidence.")
    show_hops_and_evidence(res, shown.sort_values(["score", "first_seen"], ascending=[False, True]),
                           key="graph.table", default="none")
    st.download_button("Download this table (CSV)", safe_csv(table), f"{state.export_stem()}-graph-hops.csv",
                       "text/csv", key="graph.table_csv")
