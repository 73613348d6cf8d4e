"""Exports: a download button for every registered export format, plus the graph as standalone HTML."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app.ui import state
from app.ui.common import require_result, threshold_caption
from app.ui.view import ViewOptions

st.title("Exports")
res = require_result()
threshold_caption(res)
st.caption("Suspicious scope: hops at or above the threshold "
           f"({res.config.min_score:.2f}) and the paths made of them; JSON is the whole result. "
           f"Files are named {state.export_stem()}-<format>.")

registry = state.exporters()
if not registry:
    st.warning("The export formats are not available in this build (app.exports is missing).")
stem = state.export_stem()
for name, exporter in registry.items():
    left, right = st.columns([1, 3])
    left.download_button(f"{name}{exporter.suffix}", state.export_callable(name),
                         exporter.filename(stem), exporter.mime, key=f"exports.{name}")
    right.write(exporter.description)

st.subheader("Spread graph")
left, right = st.columns([1, 3])
opts = st.session_state.get(state.GRAPH_OPTS)
if not isinstance(opts, ViewOptions):
    opts = ViewOptions(severities=("high", "medium", "low", "info"), min_score=res.config.min_score)
    where = "the Spread graph page's default view (hops at or above the threshold)"
else:
    if opts.min_score is not None:  # the threshold may have moved since
        opts = replace(opts, min_score=res.config.min_score)
    where = "the graph as last shown on the Spread graph page (same filters, focus, layout and cap)"
graph_page, view = state.graph_view(opts, standalone=True)
left.download_button("graph.html", graph_page.encode("utf-8"), f"{stem}-graph.html", "text/html",
                     key="exports.graph_html")
right.write(f"A standalone, offline HTML page of {where}; vis-network inlined. " + view.note)
