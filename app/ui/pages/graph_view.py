"""Spread graph: filtered, capped pyvis view of hosts and accounts, with a table view beside it."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.ui import state
from app.ui.common import hosts_of, require_result, safe_csv
from app.ui.graph_html import edges_table
from app.ui.view import ALL_SEVERITIES, ViewOptions
from graph.model import EdgeKind

st.title("Spread graph")
res = require_result()
hops = res.hops

with st.expander("Filters", expanded=True):
    c1, c2, c3 = st.columns(3)
    severities = c1.multiselect("Severity", ALL_SEVERITIES, ["high", "medium"], key="graph.severity")
    kinds = c2.multiselect("Edge kinds (any of)", [k.value for k in EdgeKind], [], key="graph.kinds",
                           placeholder="all kinds")
    search = c3.text_input("Search host / account", key="graph.search")
    c4, c5, c6 = st.columns(3)
    hosts = hosts_of(res)
    focus = c4.selectbox("Focus on host", ["(none)", *hosts], key="graph.focus")
    depth = c5.slider("Neighbourhood depth (hops)", 1, 4, 1, key="graph.depth")
    layout = c6.radio("Layout", ["spring", "hierarchical"], horizontal=True, key="graph.layout",
                      help="hierarchical = left to right, by hop depth from the earliest sources")
    c7, c8, c9 = st.columns(3)
    show_accounts = c7.checkbox("Show account nodes", True, key="graph.accounts")
    max_nodes = c8.slider("Node cap (the rest is aggregated)", 50, 1500, 300, 50, key="graph.max_nodes")
    sel = state.selected_path()
    highlight = c9.checkbox("Highlight the selected path", sel is not None, key="graph.highlight",
                            disabled=sel is None)
    start = end = None
    if not hops.empty:
        lo = hops["first_seen"].min().to_pydatetime()
        hi = hops["last_seen"].max().to_pydatetime()
        if hi > lo:
            start, end = st.slider("Time window (UTC)", lo, hi, (lo, hi), step=timedelta(minutes=1),
                                   format="YYYY-MM-DD HH:mm", key="graph.window")

path_ids: tuple[int, ...] = ()
if highlight and sel is not None and sel < len(res.paths):
    path_ids = tuple(res.paths[sel].hop_ids)
opts = ViewOptions(severities=tuple(severities), kinds=tuple(kinds), start=start, end=end, search=search,
                   focus=None if focus == "(none)" else focus, focus_depth=depth,
                   highlight_hop_ids=path_ids, show_accounts=show_accounts, max_nodes=max_nodes,
                   layout=layout)
page, view = state.graph_view(opts)
st.caption(view.note)
graph_tab, table_tab = st.tabs(["Graph", "Table"])
with graph_tab:
    if view.nodes:
        st.iframe(page, height=opts.height_px + 40)
    else:
        st.info("No hop matches these filters.")
with table_tab:
    table = edges_table(view)
    st.dataframe(table, hide_index=True, key="graph.table")
    st.download_button("Download this table (CSV)", lambda: safe_csv(table), "latgraph-graph-edges.csv",
                       "text/csv", key="graph.table_csv")

