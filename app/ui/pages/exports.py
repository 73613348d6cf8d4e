"""Exports: a download button for every registered export format, plus the graph as standalone HTML."""

from __future__ import annotations

import streamlit as st

from app.ui import state
from app.ui.common import require_result
from app.ui.view import ViewOptions

st.title("Exports")
res = require_result()
st.caption("Suspicious scope: hops at or above the minimum score of the run "
           f"({res.config.min_score:.2f}) and the paths made of them; JSON is the whole result.")

registry = state.exporters()
if not registry:
    st.warning("The export formats are not available in this build (app.exports is missing).")
for name, exporter in registry.items():
    left, right = st.columns([1, 3])
    left.download_button(f"{name}{exporter.suffix}", state.export_callable(name),
                         exporter.filename(), exporter.mime, key=f"exports.{name}")
    right.write(exporter.description)

st.subheader("Spread graph")
left, right = st.columns([1, 3])
graph_page, view = state.graph_view(ViewOptions(severities=("high", "medium", "low")), standalone=True)
left.download_button("graph.html", graph_page.encode("utf-8"), "latgraph-graph.html", "text/html",
                     key="exports.graph_html")
right.write("The spread graph as a standalone, offline HTML page (vis-network inlined). "
            + view.note)
