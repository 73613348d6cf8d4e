"""Paths: ranked time-respecting paths; the selected path drawn left to right; evidence per hop."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import fmt_ts, require_result, selection_panel, threshold_caption
from app.ui.evidence import plural, show_hops_and_evidence
from app.ui.graph_component import spread_graph
from app.ui.view import ALL_SEVERITIES, ViewOptions

st.title("Paths")
res = require_result()
threshold_caption(res)
if not res.paths:
    st.info("No time-respecting path: fewer than two chained hops reach the threshold (sidebar).")
    st.stop()

ranked = pd.DataFrame([{"rank": i + 1, "score": round(p.score, 3), "hosts": " → ".join(p.hosts),
                        "accounts": ", ".join(dict.fromkeys(p.accounts)), "hops": len(p.hop_ids),
                        "start": p.start, "end": p.end} for i, p in enumerate(res.paths)])
event = st.dataframe(ranked, hide_index=True, key="paths.table", on_select="rerun",
                     selection_mode="single-row")
rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
if rows != st.session_state.get("paths.table_rows"):  # a new click in the table
    st.session_state["paths.table_rows"] = rows
    if rows and rows[0] < len(res.paths):
        state.select_path(int(rows[0]))

labels = [f"#{i + 1}  {' → '.join(p.hosts)}  (score {p.score:.2f})" for i, p in enumerate(res.paths)]
current = state.selected_path()
if current is None or current >= len(labels):
    current = 0
st.session_state["paths.select"] = current  # the table click or another page may have chosen it
choice = st.selectbox("Select a path (or click a row above)", range(len(labels)),
                      format_func=lambda i: labels[i], key="paths.select",
                      on_change=lambda: state.select_path(int(st.session_state["paths.select"])))
path = res.paths[int(choice)]
state.url_set(state.URL_PATH, str(int(choice) + 1))   # a reload or a shared link opens this path
st.caption(f"Path #{int(choice) + 1}: {plural(len(path.hop_ids), 'hop')} from {fmt_ts(path.start)} to "
           f"{fmt_ts(path.end)}. It is highlighted on the Spread graph page too.")

state.keep("paths.context", False)
context = st.toggle("Show the path in context (its hosts' neighbourhood)", key="paths.context",
                    bind=state.URL)
opts = ViewOptions(severities=ALL_SEVERITIES, highlight_hop_ids=tuple(path.hop_ids), layout="hierarchical",
                   only_hop_ids=() if context else tuple(path.hop_ids), show_accounts=True, height_px=420,
                   focus=path.hosts[0] if context else None, focus_depth=len(path.hosts))
page, view = state.graph_view(opts)
st.caption(view.note + " Click a host or a hop for its details.")
selection = spread_graph(page, height=opts.height_px, key="paths.canvas")

by_id = res.hops.set_index("hop_id", drop=False)
steps = by_id.loc[[h for h in path.hop_ids if h in by_id.index]]
st.subheader("Hops of this path")
st.caption("Click a row to open that hop's reason, score parts and evidence events.")
show_hops_and_evidence(res, steps.reset_index(drop=True), key="paths.steps", default="top")
if selection:
    st.divider()
    selection_panel(res, selection, view, key="paths.sel")
